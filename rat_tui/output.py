"""Text rendering for the command line: aligned tables and one-line engine event reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from rat_tui.engine import events as ev

MAX_CELL = 40


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        text = (
            f"{value:.6g}"
            if abs(value) >= 1e15 or (value and abs(value) < 1e-4)
            else f"{value:,.2f}".rstrip("0").rstrip(".")
        )
        return text.replace(",", "")
    text = str(value).replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def render_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """Write rows as an aligned text table (numbers right-aligned); return the row count."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(
            "  ".join(
                v.rjust(w) if _looks_numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)
            ).rstrip()
            + "\n"
        )
    return len(cells)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def unreadable_line(path: str, reason: str) -> str:
    """What to say about a landing file rat may not read."""
    import os

    return (
        f"landing/{path} cannot be read ({reason}); make it readable by the user running rat "
        f"(uid {os.geteuid()}, e.g. chmod a+r)"
    )


def describe_event(event: ev.Event) -> str | None:
    """One line for stderr per engine event worth narrating."""
    from rat_tui.engine import watch

    if isinstance(event, watch.WatchStarted):
        how = "polling" if event.polling else "file events"
        return f"watching {event.root} ({how}, pid {event.pid}); Ctrl+C or SIGTERM stops"
    if isinstance(event, watch.ChangeSeen):
        return f"change: {event.path}"
    if isinstance(event, watch.SettingsError):
        return f"error: {event.message}"
    if isinstance(event, watch.RequestDone):
        return f"{event.kind} request {event.request_id} from another process: {event.status}"
    if isinstance(event, watch.WatchStopped):
        return f"stopped ({event.reason})"
    if isinstance(event, ev.RunFinished):
        if event.status == "noop":
            return None
        return (
            f"run {event.run_id} {event.status}: {event.files_ingested} files ingested, {event.models_built} models "
            f"built, {event.models_failed} failed ({event.seconds:.2f}s)"
        )
    if isinstance(event, ev.SourcePulled):
        pages = f"{event.pages} page{'s' if event.pages != 1 else ''}"
        if not event.file:
            return f"pulled {event.source}: no records ({pages}, {event.seconds:.2f}s)"
        return (
            f"pulled {event.source}: {event.records:,} record{'s' if event.records != 1 else ''} in {pages} "
            f"-> landing/{event.file} ({event.seconds:.2f}s)"
        )
    if isinstance(event, ev.SourceFailed):
        return f"FAILED source {event.source}: {event.error}; nothing was landed, the next run tries again"
    if isinstance(event, ev.TableIngested):
        return (
            f"ingested {event.table}: {event.files} file{'s' if event.files != 1 else ''}, "
            f"{event.rows:,} rows (version {event.version}, {event.seconds:.2f}s)"
        )
    if isinstance(event, ev.FileQuarantined):
        return (
            f"quarantined landing/{event.path} -> {event.moved_to}: {event.reason}; "
            "fix the file and drop it into landing/ again"
        )
    if isinstance(event, ev.FileUnreadable):
        return unreadable_line(event.path, event.reason) + ": it waits in landing/ and lands once rat can read it"
    if isinstance(event, ev.FileSkipped):
        return f"skipped landing/{event.path}: the same bytes are already in {event.table}"
    if isinstance(event, ev.ModelFinished):
        if event.status == "ok":
            rows = f"{event.rows:,} rows, version {event.version}" if event.rows is not None else "view"
            how = ", incremental" if event.mode == "incremental" else ""
            lines = [f"built {event.model}: {rows} ({event.seconds:.2f}s{how})"]
            lines += [f"warning {event.model}: {w}" for w in event.warnings]
            return "\n".join(lines)
        if event.status == "check_failed":
            return f"FAILED {event.model}: {event.error}; nothing published, readers keep the last good version"
        if event.status == "failed":
            return f"FAILED {event.model}: {event.error}"
        if event.status == "skipped":
            return f"skipped {event.model}: {event.error}"
    return None
