"""The `rat` command line: argparse subcommands -> Engine calls -> printing. No data logic here.

Standard output carries data only (results, JSON); narration and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from rat_tui import __version__
from rat_tui.output import FORMATS, MAX_ROWS

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
TABLE_HELP = "layer.table, or the table name alone where one layer has it (orders)"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-w",
        "--workspace",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the workspace folder (default: the nearest folder upward holding rat.toml)",
    )
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors")

    parser = argparse.ArgumentParser(
        prog="rat",
        parents=[common],
        description="rat: a terminal data workbench. Files in landing/ -> bronze; SQL models -> silver and gold.",
    )
    parser.add_argument("--version", action="version", version=f"rat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "init", parents=[common], help="create a new workspace", description="Create a new workspace from the template."
    )
    p.add_argument("dir", metavar="DIR", help="folder to create (may exist and be empty)")
    p.add_argument("--demo", action="store_true", help="add the demo shop's sample data and models")

    sub.add_parser(
        "demo",
        parents=[common],
        help="create, build and show the demo workspace in ./rat-demo",
        description="Create the demo workspace in ./rat-demo (or -w DIR), build it and print its status.",
    )

    p = sub.add_parser(
        "run",
        parents=[common],
        help="ingest landing/ and build stale models",
        description="Ingest what waits in landing/, then build the selected models that are stale. "
        "Exit 0 only if every selected model built.",
    )
    p.add_argument(
        "selectors",
        nargs="*",
        metavar="SELECTOR",
        help="a model (orders, silver.orders), name+ (and downstream), +name (and upstream), or a layer (gold)",
    )
    p.add_argument("--full-refresh", action="store_true", help="rebuild the selected models even if up to date")

    p = sub.add_parser(
        "watch",
        parents=[common],
        help="the engine headless: ingest and rebuild on every change",
        description="Watch landing/, models/ and rat.toml; ingest settled files and rebuild what a change "
        "affects, until SIGINT/SIGTERM (a second signal aborts the build in progress).",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line on standard output")

    p = sub.add_parser(
        "query",
        parents=[common],
        help="run one SQL query against the current tables",
        description="Run SQL against the current version of every table (schemas bronze, silver, gold).",
    )
    p.add_argument("sql", metavar="SQL")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="default: the one -o FILE's extension names (.csv .json .ndjson .jsonl .parquet, .txt: table), else table",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of standard output")
    p.add_argument(
        "--max-rows",
        type=_row_count,
        metavar="N",
        help=f"table: print the first N rows (default {MAX_ROWS}) and count the rest; 0 prints them all",
    )

    p = sub.add_parser(
        "status",
        parents=[common],
        help="tables, models and recent runs",
        description="Every table: layer, rows, version, last build, state (as the next run sees it); the last "
        "runs, sources, recent schema changes and the files in quarantine.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if anything needs attention (a failing or skipped model, a file in quarantine, a failed pull)",
    )

    p = sub.add_parser(
        "history",
        parents=[common],
        help="a table's versions, newest first",
        description="A table's Delta versions, newest first: time, operation, rows, run. Maintenance "
        "versions (a vacuum's) change no data and are marked so.",
    )
    p.add_argument("table", metavar="TABLE", help=TABLE_HELP)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "diff",
        parents=[common],
        help="rows added, removed and changed between two versions",
        description="Compare two versions of a table (default: the last change of its data; a vacuum's "
        "versions change none). Rows are matched by the model's unique_key where it declares one.",
    )
    p.add_argument("table", metavar="TABLE", help=TABLE_HELP)
    p.add_argument(
        "versions",
        nargs="*",
        type=int,
        metavar="V",
        help="V1 [V2]: from V1 (default: the data version before V2) to V2 (default: the last data version)",
    )
    p.add_argument("--rows", action="store_true", help="also list the rows (at most 1,000 per kind)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "rollback",
        parents=[common],
        help="publish an old version of a table again",
        description="Publish VERSION of TABLE again as a new commit (history keeps every version).",
    )
    p.add_argument("table", metavar="TABLE", help=TABLE_HELP)
    p.add_argument("version", type=int, metavar="VERSION")

    p = sub.add_parser(
        "vacuum",
        parents=[common],
        help="delete data files old versions no longer need",
        description="Delete data files that no version newer than --retain needs; never the "
        "current version's. Older versions can no longer be read, diffed or rolled back to.",
    )
    p.add_argument(
        "--retain", default="7d", metavar="AGE", help="keep what versions of this age need (7d, 12h, 0); default 7d"
    )
    return parser


def _row_count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r} (0 prints them all)")
    return int(text)


def _err(message: str) -> None:
    sys.stderr.write(f"rat: {message}\n")
    sys.stderr.flush()


def _explain(exc: BaseException, args: argparse.Namespace) -> str | None:
    """One line for an error of the machine rather than of rat, naming where and what to do."""
    from rat_tui.engine.errors import explain
    from rat_tui.engine.workspace import Workspace

    try:
        ws = Workspace.find(_workspace_arg(args))
    except Exception:
        return explain(exc, None)
    return explain(exc, ws.root, ws.settings.state_timeout)


def _workspace_arg(args: argparse.Namespace) -> Path | None:
    value = getattr(args, "workspace", None)
    return Path(value) if value else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False)) or os.environ.get("RAT_DEBUG") == "1"
    from rat_tui.engine.errors import RatError

    try:
        handler = COMMANDS.get(args.command or "", cmd_workbench)
        return handler(args)
    except RatError as exc:
        if debug:
            traceback.print_exc()
        _err(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`rat query ... | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if debug:
            traceback.print_exc()
        message = _explain(exc, args)  # the machine's fault (a full disk, a locked state database)?
        if message is not None:
            _err(f"error: {message}")
            return EXIT_FAILED
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        _err(f"internal error: {type(exc).__name__}: {first}; run again with --debug for the traceback")
        return EXIT_FAILED


# Commands.


def cmd_workbench(args: argparse.Namespace) -> int:
    """`rat`: the workbench, with the engine watching in-process (a viewer if another process writes)."""
    from rat_tui.app import RatApp
    from rat_tui.engine.workspace import Workspace

    root = Workspace.find(_workspace_arg(args)).root
    RatApp(root).run()
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from rat_tui.engine.workspace import init_workspace

    root = init_workspace(Path(args.dir), demo=args.demo)
    what = "demo workspace" if args.demo else "workspace"
    _err(f"created {what} in {root}; next: `rat run -w {root}`")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from rat_tui.engine.workspace import CONFIG_NAME, init_workspace

    root = _workspace_arg(args) or Path("rat-demo")
    if not (root / CONFIG_NAME).exists():
        init_workspace(root, demo=True)
        _err(f"created demo workspace in {root}")
    args.workspace = str(root)
    code = cmd_run(argparse.Namespace(**{**vars(args), "selectors": [], "full_refresh": False}))
    if sys.stdin.isatty() and sys.stdout.isatty():
        return cmd_workbench(args)
    # Not at a terminal (a script, CI): show what was built instead of opening the workbench.
    cmd_status(argparse.Namespace(**{**vars(args), "json": False, "check": False}))
    _err(f'try: rat -w {root}   or   rat query -w {root} "select * from gold.daily_revenue order by 1 desc limit 10"')
    return code


def _engine(args: argparse.Namespace):
    from rat_tui.engine import Engine

    return Engine.open(_workspace_arg(args))


def cmd_run(args: argparse.Namespace) -> int:
    from rat_tui.engine.errors import LockedError
    from rat_tui.engine.events import FileUnreadable, RunFinished
    from rat_tui.output import describe_event, unreadable_line

    engine = _engine(args)

    def narrate(event: Any) -> None:
        # The run's end and unreadable files are summed up below, the latter as its error line.
        line = None if isinstance(event, (RunFinished, FileUnreadable)) else describe_event(event)
        if line:
            sys.stderr.write(line + "\n")

    engine.events.subscribe(narrate)
    try:
        report = engine.run(args.selectors, full_refresh=args.full_refresh)
    except LockedError as locked:
        outcome = _hand_over(engine, locked, "run", selectors=args.selectors, full_refresh=args.full_refresh)
        whose = "the workbench's" if locked.role == "workbench" else "the watcher's"
        if outcome.status == "failed":
            _err(f"{whose} run {outcome.run_id or ''} FAILED: {outcome.message}")
            return EXIT_FAILED
        _err(f"{whose} run {outcome.run_id}: {outcome.status} (`rat status` has the details)")
        return EXIT_OK
    finally:
        engine.close()
    if report.status == "noop":
        _err(f"nothing to do: no new files in landing/, every model up to date ({report.seconds:.2f}s)")
        return EXIT_OK
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
    if report.up_to_date:
        parts.append(f"{len(report.up_to_date)} up to date")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    verdict = "FAILED" if report.status == "failed" else "ok"
    _err(f"run {report.run_id} {verdict}: {', '.join(parts)} ({report.seconds:.2f}s)")
    if report.unreadable:
        path, reason = report.unreadable[0]
        more = len(report.unreadable) - 1
        others = f" (and {more} more file{'s' if more != 1 else ''} like it)" if more else ""
        _err(f"error: {unreadable_line(path, reason)}{others}, then run again: it waits in landing/")
    return EXIT_FAILED if report.status == "failed" else EXIT_OK


def _hand_over(engine: Any, locked: Any, kind: str, **work: Any) -> Any:
    """Ask the watcher or workbench whose lock refused this command to do it; wait for its Outcome.
    Re-raises `locked` when the holder takes no requests; the Outcome of a rollback or vacuum that
    failed is raised as its error, as when it fails here."""
    from rat_tui.engine.errors import RatError
    from rat_tui.engine.workspace import writer_name

    request = engine.hand_over(locked, kind, **work)
    holder = writer_name(locked.role, locked.pid)
    _err(f"{holder} is writing to this workspace; asked it to do this {kind} (request {request})")
    outcome = engine.wait_for_request(request, locked)
    if kind != "run" and outcome.status == "failed":
        raise RatError(outcome.message or f"{holder} could not do the {kind}")
    return outcome


def cmd_watch(args: argparse.Namespace) -> int:
    import dataclasses
    import signal
    import threading
    from datetime import datetime

    from rat_tui.engine.watch import Watcher
    from rat_tui.output import describe_event

    engine = _engine(args)
    watcher = Watcher(engine)
    lock = threading.Lock()

    def log(event: Any) -> None:
        now = datetime.now().astimezone()
        with lock:
            if args.json:
                record = {"time": now.isoformat(timespec="milliseconds"), "event": type(event).__name__}
                record.update(dataclasses.asdict(event))
                sys.stdout.write(json.dumps(record, default=str) + "\n")
                sys.stdout.flush()
                return
            line = describe_event(event)
            if line:
                for part in line.splitlines():
                    sys.stderr.write(f"{now:%H:%M:%S} {part}\n")
                sys.stderr.flush()

    engine.events.subscribe(log)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            watcher.run()
        except BaseException as exc:
            failure.append(exc)

    def on_signal(signum: int, frame: Any) -> None:
        if watcher.stopping:
            watcher.abort()  # a second signal: do not wait for the build in progress
        else:
            watcher.stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    thread = threading.Thread(target=work, name="rat-watch")
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    finally:
        engine.close()
    if failure:
        raise failure[0]
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    from rat_tui.engine.results import export, stream
    from rat_tui.output import new_text_file, query_format, render_result

    fmt = query_format(args.format, args.output, args.max_rows)  # refuses before anything is written
    max_rows = MAX_ROWS if args.max_rows is None else args.max_rows
    engine = _engine(args)
    session = engine.query_session()
    try:
        if fmt == "table":
            result = stream(session, args.sql)
            if result is None:
                return EXIT_OK
            if not args.output:
                render_result(result, sys.stdout, max_rows)
                sys.stdout.flush()
                return EXIT_OK
            with new_text_file(Path(args.output)) as fh:
                shown, total = render_result(result, fh, max_rows)
            if shown < total:
                _err(f"wrote the first {shown:,} of {total:,} rows to {args.output}; --max-rows 0 writes them all")
            else:
                _err(f"wrote {total:,} rows to {args.output}")
            return EXIT_OK
        if args.output:
            count = export(session, args.sql, fmt, Path(args.output))
            _err(f"wrote {count:,} rows to {args.output}")
            return EXIT_OK
        engine.ws.tmp.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=engine.ws.tmp) as tmp:
            out = Path(tmp) / f"result.{fmt}"
            export(session, args.sql, fmt, out)
            sys.stdout.flush()
            with open(out, "rb") as fh:
                shutil.copyfileobj(fh, sys.stdout.buffer)  # DuckDB ends the file with its newline
            sys.stdout.flush()
        return EXIT_OK
    finally:
        session.close()
        engine.close()


def cmd_status(args: argparse.Namespace) -> int:
    from rat_tui.engine.status import problems
    from rat_tui.output import render_status

    engine = _engine(args)
    try:
        status = engine.status()
    finally:
        engine.close()
    if args.json:
        json.dump(status, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        render_status(status, sys.stdout)
    if args.check:
        found = problems(status)
        if found:
            _err(
                f"{len(found)} problem{'s' if len(found) != 1 else ''} need attention: {found[0]}"
                + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
            )
            return EXIT_FAILED
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from rat_tui.output import render_table

    engine = _engine(args)
    try:
        versions = engine.history(args.table)
    finally:
        engine.close()
    if args.json:
        json.dump(versions, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rat_tui.engine.ingest.schema import summary

        rows = []
        for v in versions:
            # A maintenance commit (a vacuum's) changes no row: the models reading the table stay up to date.
            operation = f"{v['operation']} (maintenance)" if v["maintenance"] else v["operation"]
            rows.append(
                (v["version"], v["timestamp"], operation, v["rows"], v["run"], summary(v.get("schema_changes", [])))
            )
        render_table(("version", "timestamp", "operation", "rows", "run", "schema changes"), rows, sys.stdout)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from rat_tui.output import render_table

    if len(args.versions) > 2:
        raise _usage("rat diff takes at most two versions: TABLE [V1 [V2]]")
    v1 = args.versions[0] if args.versions else None
    v2 = args.versions[1] if len(args.versions) > 1 else None
    engine = _engine(args)
    try:
        d = engine.diff(args.table, v1, v2, rows=args.rows)
    finally:
        engine.close()
    if args.json:
        out = d.summary()
        if args.rows:
            out["rows"] = d.rows
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return EXIT_OK
    by = f" (rows matched by {', '.join(d.key)})" if d.key else ""
    sys.stdout.write(
        f"{d.table} version {d.from_version} -> {d.to_version}{by}: "
        f"{d.added:,} added, {d.removed:,} removed, {d.changed:,} changed\n"
    )
    if d.columns_added or d.columns_removed:
        sys.stdout.write(
            f"columns added: {', '.join(d.columns_added) or '-'}; removed: {', '.join(d.columns_removed) or '-'}\n"
        )
    if args.rows and d.rows:
        columns = list(d.rows[0])
        for row in d.rows[1:]:
            columns += [c for c in row if c not in columns]
        sys.stdout.write("\n")
        render_table(columns, [[r.get(c) for c in columns] for r in d.rows], sys.stdout)
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from rat_tui.engine.errors import LockedError

    engine = _engine(args)
    try:
        table = engine.resolve_table(args.table)
        try:
            new = engine.rollback(table, args.version)
        except LockedError as locked:
            what = {"table": table, "version": args.version}
            new = int(_hand_over(engine, locked, "rollback", args=what).result["version"])
    finally:
        engine.close()
    _err(f"{table} is now version {new}, with the content of version {args.version}")
    return EXIT_OK


def cmd_vacuum(args: argparse.Namespace) -> int:
    from rat_tui.engine.errors import LockedError
    from rat_tui.engine.versions import parse_retention

    hours = parse_retention(args.retain)
    engine = _engine(args)
    try:
        try:
            removed = engine.vacuum(hours)
        except LockedError as locked:
            deleted = _hand_over(engine, locked, "vacuum", args={"retain_hours": hours}).result.get("deleted", {})
            removed = {table: int(n) for table, n in deleted.items()}
    finally:
        engine.close()
    kept = f"versions of the last {args.retain} keep their files" if hours else ""
    if not removed:
        _err("vacuum: nothing to delete" + (f"; {kept}" if kept else ""))
        return EXIT_OK
    for table, count in removed.items():
        _err(f"vacuumed {table}: {count} file{'s' if count != 1 else ''} deleted")
    files, tables = sum(removed.values()), len(removed)
    done = f"{files} file{'s' if files != 1 else ''} deleted from {tables} table{'s' if tables != 1 else ''}"
    _err(f"vacuum done: {done}" + (f" ({kept})" if kept else ""))
    return EXIT_OK


def _usage(message: str) -> Exception:
    from rat_tui.engine.errors import RatError

    return RatError(message)


COMMANDS = {
    "init": cmd_init,
    "demo": cmd_demo,
    "run": cmd_run,
    "watch": cmd_watch,
    "query": cmd_query,
    "status": cmd_status,
    "history": cmd_history,
    "diff": cmd_diff,
    "rollback": cmd_rollback,
    "vacuum": cmd_vacuum,
}
