"""Text rendering for the command line: aligned tables, query results in the format asked for, and
one-line engine event reports."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # the engine is imported only when used: `rat --version` and `--help` stay quick
    from rat_tui.engine.results import Result
    from rat_tui.engine.status import TableStatus, WorkspaceStatus

MAX_CELL = 40
MAX_ROWS = 40  # rows `rat query` prints by default, like DuckDB's box renderer; the rest are counted
FORMATS = ("table", "csv", "json", "ndjson", "parquet")
BINARY_FORMATS = frozenset({"parquet"})  # never written to a terminal: it would only garble it
EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".txt": "table",
}


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
    cells = _cells(rows)
    widths = _widths(columns, cells)
    out.write(_header(columns, widths))
    out.write(_lines(cells, widths))
    return len(cells)


def _cells(rows: Iterable[Sequence[Any]]) -> list[list[str]]:
    return [[_cell(v) for v in row] for row in rows]


def _widths(columns: Sequence[str], cells: list[list[str]]) -> list[int]:
    widths = [len(c) for c in columns]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    return widths


def _header(columns: Sequence[str], widths: list[int]) -> str:
    names = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    return names + "\n" + "  ".join("-" * w for w in widths) + "\n"


def _lines(cells: list[list[str]], widths: list[int]) -> str:
    return "".join(
        "  ".join(v.rjust(w) if _looks_numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in cells
    )


def render_result(result: Result, out: TextIO, max_rows: int = MAX_ROWS) -> tuple[int, int]:
    """Print a streamed query result as a table; return (rows printed, rows in the result).

    The first `max_rows` rows print as `render_table` prints them and are flushed at once, so
    `| head` need not wait; the rest are counted a batch at a time and dropped, and a last line says
    how many were left out. `max_rows` 0 prints every row as it arrives, the column widths taken
    from the first batch. Memory stays flat either way.
    """
    if max_rows == 0:
        shown = _render_all(result, out)
        return shown, shown
    shown = render_table(result.columns, result.head(max_rows), out)
    out.flush()
    more = 0
    for size in result.sizes():
        more += size
        if _reader_gone(out):
            # `| head` has its lines: counting to the end would only keep it waiting for our exit.
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")
    if more:
        rows = "row" if more == 1 else "rows"
        out.write(f"… {more:,} more {rows} ({shown + more:,} in all); --format csv or -o FILE.csv for all of them\n")
    return shown, shown + more


def _render_all(result: Result, out: TextIO) -> int:
    chunks = result.chunks()
    cells = _cells(next(chunks, []))
    widths = _widths(result.columns, cells)  # a later, wider cell pushes its row instead of waiting
    out.write(_header(result.columns, widths))
    shown = 0
    while True:
        out.write(_lines(cells, widths))
        out.flush()
        shown += len(cells)
        chunk = next(chunks, None)
        if chunk is None:
            return shown
        cells = _cells(chunk)


def _reader_gone(out: TextIO) -> bool:
    """Whether `out` is a pipe whose reading end has closed (Linux reports POLLERR on it)."""
    import select

    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    if not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, 0)  # errors and hang-ups are reported whatever the mask
    return any(revents & (select.POLLERR | select.POLLHUP) for _, revents in poller.poll(0))


def query_format(fmt: str | None, output: str | None, max_rows: int | None) -> str:
    """The format `rat query` writes: --format if given, else the one -o's extension names, else table.

    Raises QueryError, before anything is written, when --format and -o's extension disagree, when
    neither names a format, when --max-rows is given for a format other than table, and when a
    binary format would go to a terminal.
    """
    from rat_tui.engine.errors import QueryError

    chosen = fmt
    if output is not None:
        suffix = Path(output).suffix.lower()
        implied = EXTENSIONS.get(suffix)
        if fmt is None and implied is None:
            what = f'its extension "{suffix}"' if suffix else "a name without an extension"
            known = ", ".join(list(EXTENSIONS)[:-1]) + f" or {list(EXTENSIONS)[-1]}"
            raise QueryError(
                f"-o {output}: cannot tell the format from {what}; end the name in {known} (a table), or give --format"
            )
        if fmt is not None and implied is not None and implied != fmt:
            raise QueryError(
                f"-o {output} names a {implied} file but --format is {fmt}; drop --format, or name the file "
                f"{Path(output).stem}{_extension(fmt)}"
            )
        chosen = fmt or implied
    chosen = chosen or "table"
    if max_rows is not None and chosen != "table":
        raise QueryError(f"--max-rows applies to the table format, not {chosen}; put a LIMIT in the SQL instead")
    if chosen in BINARY_FORMATS and (sys.stdout.isatty() if output is None else _is_terminal(output)):
        raise QueryError(
            f"{chosen} is binary and would go to a terminal; write it to a file with -o FILE{_extension(chosen)} "
            "or pipe it to a program"
        )
    return chosen


def _extension(fmt: str) -> str:
    return next(ext for ext, f in EXTENSIONS.items() if f == fmt)


def _is_terminal(path: str) -> bool:
    import stat

    try:
        if not stat.S_ISCHR(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


@contextmanager
def new_text_file(path: Path) -> Iterator[TextIO]:
    """A text file written under a temporary name and renamed into place once complete, so a query
    that fails midway leaves neither a file nor half of one."""
    tmp = path.with_name(f".{path.name}.rat-tmp")
    from rat_tui.engine.errors import QueryError

    try:
        fh = open(tmp, "w", encoding="utf-8")
    except OSError as exc:
        raise QueryError(f"cannot write {path}: {exc.strerror}; check that its folder exists and is writable") from None
    try:
        with fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _when(text: str | None) -> str:
    return (text or "")[:19].replace("T", " ")


def render_status(status: WorkspaceStatus, out: TextIO) -> None:
    """`rat status` as text: the tables, then what needs a reader's eyes."""
    from rat_tui.engine.ingest.schema import SchemaChange
    from rat_tui.engine.states import BuildState

    def last(t: TableStatus) -> str:
        run = t.last_run
        if not run:
            return ""
        took = f" in {run.seconds:.2f}s" if run.seconds is not None else ""
        return f"{run.status}{took}" + (f" ({run.mode})" if run.mode == "incremental" else "")

    rows = [(t.name, t.kind, t.rows, t.version, _when(t.built_at), t.state, last(t)) for t in status.tables]
    out.write(f"workspace {status.workspace} ({status.root})\n\n")
    render_table(("table", "kind", "rows", "version", "built", "state", "last build"), rows, out)
    notes = [t for t in status.tables if t.state not in (BuildState.OK, BuildState.NO_MODEL) and t.detail]
    for t in notes:
        out.write(f"\n{t.name}: {t.detail}")
    warnings = [w for t in status.tables for w in t.warnings or []]
    for w in warnings:
        out.write(f"\nwarning: {w}")
    if notes or warnings:
        out.write("\n")
    quarantine = status.quarantine
    if quarantine:
        n = len(quarantine)
        out.write(
            f"\nquarantine: {n} file{'s' if n != 1 else ''} could not be read (.rat/quarantine/; fix and drop "
            "again into landing/, then delete it there)\n"
        )
        for q in quarantine[:10]:
            out.write(f"  landing/{q.path} ({_when(q.at)}): {q.reason}\n")
        if n > 10:
            out.write(f"  and {n - 10} more (rat status --json lists them all)\n")
    changes = status.schema_changes
    if changes:
        out.write("\nrecent schema changes:\n")
        for c in changes[:5]:
            change = SchemaChange(c.column, c.change, c.old_type, c.new_type, c.file, c.example)
            out.write(f"  {_when(c.at)}  {change.describe(c.table)} (version {c.version})\n")
    for source in status.sources:
        pull = source.last_pull
        if pull is None:
            told = "never pulled"
        elif pull.status == "failed":
            again = f"; {source.failures} in a row, next try {_when(source.next_due)}" if source.next_due else ""
            told = f"FAILED at {_when(pull.started_at)}: {pull.error}{again}"
        else:
            records = f"{pull.records:,} record{'s' if pull.records != 1 else ''}"
            told = f"{records} at {_when(pull.started_at)}"
        if source.cursor is not None:
            told += f"; cursor {source.cursor}"
        if source.next_due and (pull is None or pull.status != "failed"):
            told += f"; next {_when(source.next_due)}"
        when = f"schedule {source.every}" if " " in source.every else f"every {source.every}"
        out.write(f"\nsource {source.name} -> {source.table} ({when}): {told}")
    if status.sources:
        out.write("\n")
    if status.runs:
        run = status.runs[0]
        out.write(
            f"\nlast run {run.run_id}: {run.status}, {run.files_ingested or 0} files ingested, "
            f"{run.files_quarantined or 0} quarantined, {run.models_built or 0} models built, "
            f"{run.models_failed or 0} failed\n"
        )


def run_summary(report: Any) -> str:
    """The line `rat run` ends with: what it pulled, ingested, built, and how it went."""
    parts = [f"{len(report.ingested)} file{'s' if len(report.ingested) != 1 else ''} ingested"]
    if report.pulled or report.sources_failed:
        parts.insert(0, f"{len(report.pulled)} source{'s' if len(report.pulled) != 1 else ''} pulled")
    if report.sources_failed:
        parts.insert(1, f"{len(report.sources_failed)} source{'s' if len(report.sources_failed) != 1 else ''} failed")
    if report.quarantined:
        parts.append(f"{len(report.quarantined)} quarantined (see .rat/quarantine/)")
    if report.unreadable:
        parts.append(f"{len(report.unreadable)} unreadable")
    parts.append(f"{len(report.built)} model{'s' if len(report.built) != 1 else ''} built")
    if report.rechecked:
        parts.append(f"{len(report.rechecked)} re-checked")
    if report.up_to_date:
        parts.append(f"{len(report.up_to_date)} up to date")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    verdict = "FAILED" if report.status == "failed" else "ok"
    return f"run {report.run_id} {verdict}: {', '.join(parts)} ({report.seconds:.2f}s)"


def write_json(value: Any, out: TextIO) -> None:
    """`--json`: indented, one trailing newline; dates and decimals as their text."""
    json.dump(value, out, indent=2, default=str)
    out.write("\n")


def render_history(versions: list[dict[str, Any]], out: TextIO) -> None:
    """`rat history`: a table's versions, newest first."""
    from rat_tui.engine.ingest.schema import summary

    rows = []
    for v in versions:
        # A maintenance commit (a vacuum's) changes no row: the models reading the table stay up to date.
        operation = f"{v['operation']} (maintenance)" if v["maintenance"] else v["operation"]
        rows.append(
            (v["version"], v["timestamp"], operation, v["rows"], v["run"], summary(v.get("schema_changes", [])))
        )
    render_table(("version", "timestamp", "operation", "rows", "run", "schema changes"), rows, out)


def render_diff(d: Any, out: TextIO, rows: bool) -> None:
    """`rat diff`: the counts of added, removed and changed rows, the columns, and the rows asked for."""
    by = f" (rows matched by {', '.join(d.key)})" if d.key else ""
    out.write(
        f"{d.table} version {d.from_version} -> {d.to_version}{by}: "
        f"{d.added:,} added, {d.removed:,} removed, {d.changed:,} changed\n"
    )
    if d.columns_added or d.columns_removed:
        added, removed = ", ".join(d.columns_added) or "-", ", ".join(d.columns_removed) or "-"
        out.write(f"columns added: {added}; removed: {removed}\n")
    if rows and d.rows:
        columns = list(d.rows[0])
        for row in d.rows[1:]:
            columns += [c for c in row if c not in columns]
        out.write("\n")
        render_table(columns, [[r.get(c) for c in columns] for r in d.rows], out)


def vacuum_lines(removed: dict[str, int], retain: str | None) -> list[str]:
    """What `rat vacuum` tells stderr: each table's deleted files, then the total."""
    kept = f"versions of the last {retain} keep their files" if retain else ""
    if not removed:
        return ["vacuum: nothing to delete" + (f"; {kept}" if kept else "")]
    lines = [f"vacuumed {table}: {count} file{'s' if count != 1 else ''} deleted" for table, count in removed.items()]
    files, tables = sum(removed.values()), len(removed)
    done = f"{files} file{'s' if files != 1 else ''} deleted from {tables} table{'s' if tables != 1 else ''}"
    return [*lines, f"vacuum done: {done}" + (f" ({kept})" if kept else "")]
