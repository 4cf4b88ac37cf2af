"""What the command line says about each engine event (stderr, one line or a few): one formatter
per event class in FORMATTERS, so a new event without one fails tests/test_narration.py instead of
going unsaid. A formatter returning None says nothing (the event is summed up elsewhere)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rat_tui.engine import BuildState, plural
from rat_tui.engine import events as ev


def unreadable_line(path: str, reason: str) -> str:
    """What to say about a landing file rat may not read."""
    return (
        f"landing/{path} cannot be read ({reason}); make it readable by the user running rat "
        f"(uid {os.geteuid()}, e.g. chmod a+r)"
    )


def _s(n: int) -> str:
    return "s" if n != 1 else ""


def _silent(event: Any) -> None:
    return None  # shown by the progress bar or the run's summary, not as a line of its own


def _watch_started(e: ev.WatchStarted) -> str:
    how = "polling" if e.polling else "file events"
    return f"watching {e.root} ({how}, pid {e.pid}); Ctrl+C or SIGTERM stops"


def _run_finished(e: ev.RunFinished) -> str | None:
    if e.status == "noop":
        return None
    return (
        f"run {e.run_id} {e.status}: {e.files_ingested} file{_s(e.files_ingested)} ingested, "
        f"{e.models_built} model{_s(e.models_built)} built, {e.models_failed} failed ({e.seconds:.2f}s)"
    )


def _source_pulled(e: ev.SourcePulled) -> str:
    pages = f"{e.pages} page{_s(e.pages)}"
    extra = f", {e.dropped:,} already in bronze" if e.dropped else ""
    extra += f", next from {e.cursor}" if e.cursor is not None else ""
    if not e.file:
        nothing = "no new records" if e.cursor is not None else "no records"
        return f"pulled {e.source}: {nothing} ({pages}{extra}, {e.seconds:.2f}s)"
    return (
        f"pulled {e.source}: {e.records:,} record{_s(e.records)} in {pages} -> landing/{e.file}"
        f" ({e.seconds:.2f}s{extra})"
    )


def _table_ingested(e: ev.TableIngested) -> str:
    line = f"ingested {e.table}: {e.files} file{_s(e.files)}, {plural(e.rows, 'row')} (version {e.version}, {e.seconds:.2f}s)"
    return "\n".join([line, *(f"  {note}" for note in e.notes)])


def _model_finished(e: ev.ModelFinished) -> str | None:
    if e.status == "ok" and e.mode == "checks":
        what = f"version {e.version}" if e.version is not None else "the view"
        lines = [f"re-checked {e.model}: its changed checks pass on {what}, nothing rebuilt ({e.seconds:.2f}s)"]
        return "\n".join(lines + [f"warning {e.model}: {w}" for w in e.warnings])
    if e.status == BuildState.CHECK_FAILED and e.mode == "checks":
        return f"FAILED {e.model}: {e.error}; its changed checks fail on the published version, nothing was rebuilt"
    if e.status == "ok":
        rows = f"{plural(e.rows, 'row')}, version {e.version}" if e.rows is not None else "view"
        how = ", incremental" if e.mode == "incremental" else ""
        lines = [f"built {e.model}: {rows} ({e.seconds:.2f}s{how})"]
        lines += [f"warning {e.model}: {w}" for w in e.warnings]
        return "\n".join(lines)
    if e.status == BuildState.CHECK_FAILED:
        return f"FAILED {e.model}: {e.error}; nothing published, readers keep the last good version"
    if e.status == "failed":
        return f"FAILED {e.model}: {e.error}"
    if e.status == BuildState.SKIPPED:
        return f"skipped {e.model}: {e.error}"
    return None


FORMATTERS: dict[type[ev.Event], Callable[[Any], str | None]] = {
    ev.RunStarted: _silent,
    ev.BuildPlanned: _silent,
    ev.Progress: _silent,
    ev.ModelStarted: _silent,
    ev.TableChanged: _silent,  # a viewer's: the workbench reloads, the command line has no viewer
    ev.RunSeen: _silent,
    ev.WatchStarted: _watch_started,
    ev.ChangeSeen: lambda e: f"change: {e.path}",
    ev.SettingsError: lambda e: f"error: {e.message}",
    ev.RequestDone: lambda e: f"{e.kind} request {e.request_id} from another process: {e.status}",
    ev.WatchStopped: lambda e: f"stopped ({e.reason})",
    ev.RunFinished: _run_finished,
    ev.SourcePulled: _source_pulled,
    ev.SourceWarning: lambda e: f"warning {e.source}: {e.message}",
    ev.SourceFailed: lambda e: f"FAILED source {e.source}: {e.error}; nothing was landed, the next run tries again",
    ev.TableIngested: _table_ingested,
    ev.SchemaChanged: lambda e: e.message,
    ev.ModelWarning: lambda e: f"warning {e.model}: {e.message}",
    ev.FileQuarantined: lambda e: (
        f"quarantined landing/{e.path} -> {e.moved_to}: {e.reason}; fix the file and drop it into landing/ again"
    ),
    ev.FileUnreadable: lambda e: (
        unreadable_line(e.path, e.reason) + ": it waits in landing/ and lands once rat can read it"
    ),
    ev.FileSkipped: lambda e: f"skipped landing/{e.path}: the same bytes are already in {e.table}",
    ev.ModelFinished: _model_finished,
}


def event_json(event: ev.Event, at: datetime) -> str:
    """One line of `rat watch --json`: the time, the event's wire name, its fields."""
    record = {"time": at.isoformat(timespec="milliseconds"), "event": event.WIRE, **dataclasses.asdict(event)}
    return json.dumps(record, default=str)


def describe_event(event: ev.Event) -> str | None:
    """What stderr says about `event`, or None."""
    return FORMATTERS[type(event)](event)
