"""The `rat` command line: argparse subcommands -> Engine calls -> printing. No data logic here.

Standard output carries data only (results, JSON); narration and errors go to stderr.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from rat_tui.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    engine_for,
    err,
    hand_over,
    usage,
    workspace_arg,
)
from rat_tui.cli_lake import cmd_backup, cmd_diff, cmd_history, cmd_restore, cmd_rollback, cmd_vacuum
from rat_tui.cli_parser import build_parser
from rat_tui.cli_serve import cmd_serve
from rat_tui.engine import plural
from rat_tui.output import MAX_ROWS


def _explain(exc: BaseException, args: argparse.Namespace) -> str | None:
    """One line for an error of the machine rather than of rat, naming where and what to do."""
    from rat_tui.engine.errors import explain
    from rat_tui.engine.workspace import Workspace

    try:
        ws = Workspace.find(workspace_arg(args))
    except Exception:
        return explain(exc, None)
    return explain(exc, ws.root, ws.settings.state_timeout)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False)) or os.environ.get("RAT_DEBUG") == "1"
    from rat_tui.engine.errors import RatError

    try:
        handler = COMMANDS.get(args.command or "", cmd_workbench)
        return handler(args)
    except RatError as exc:
        if debug:
            traceback.print_exc()
        err(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err("interrupted")
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
            err(f"error: {message}")
            return EXIT_FAILED
        from rat_tui.engine.errors import first_line

        err(f"internal error: {type(exc).__name__}: {first_line(exc)}; run again with --debug for the traceback")
        return EXIT_FAILED


# Commands.


def cmd_workbench(args: argparse.Namespace) -> int:
    """`rat`: the workbench, with the engine watching in-process (a viewer if another process writes)."""
    from rat_tui.app import RatApp
    from rat_tui.engine.workspace import Workspace

    root = Workspace.find(workspace_arg(args)).root
    RatApp(root).run()
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from rat_tui.engine.workspace import init_workspace

    root = init_workspace(Path(args.dir), demo=args.demo)
    what = "demo workspace" if args.demo else "workspace"
    err(f"created {what} in {root}; next: `rat run -w {root}`")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from rat_tui.engine.workspace import CONFIG_NAME, init_workspace

    root = workspace_arg(args) or Path("rat-demo")
    if not (root / CONFIG_NAME).exists():
        init_workspace(root, demo=True)
        err(f"created demo workspace in {root}")
    args.workspace = str(root)
    code = cmd_run(argparse.Namespace(**{**vars(args), "selectors": [], "full_refresh": False}))
    if sys.stdin.isatty() and sys.stdout.isatty():
        return cmd_workbench(args)
    # Not at a terminal (a script, CI): show what was built instead of opening the workbench.
    cmd_status(argparse.Namespace(**{**vars(args), "json": False, "check": False}))
    err(f'try: rat -w {root}   or   rat query -w {root} "select * from gold.daily_revenue order by 1 desc limit 10"')
    return code


def cmd_run(args: argparse.Namespace) -> int:
    from rat_tui.engine.errors import LockedError
    from rat_tui.engine.events import FileUnreadable, RunFinished
    from rat_tui.narration import describe_event, unreadable_line
    from rat_tui.output import run_summary

    engine = engine_for(args)

    def narrate(event: Any) -> None:
        # The run's end and unreadable files are summed up below, the latter as its error line.
        line = None if isinstance(event, (RunFinished, FileUnreadable)) else describe_event(event)
        if line:
            sys.stderr.write(line + "\n")

    engine.events.subscribe(narrate)
    pulling = args.command == "pull"
    names: list[str] = []
    if pulling:
        known = engine.ws.settings.sources
        unknown = [n for n in args.sources if n not in known]
        if unknown:
            engine.close()
            listed = ", ".join(known) or "none: add a [sources.<name>] to rat.toml"
            raise usage(f"no source {unknown[0]} in {engine.ws.root / 'rat.toml'} (its sources: {listed})")
        if not known:
            engine.close()
            err(f"nothing to pull: {engine.ws.root / 'rat.toml'} has no [sources.<name>]")
            return EXIT_OK
    try:
        if pulling:
            names = list(dict.fromkeys(args.sources)) or list(engine.ws.settings.sources)
            report = engine.run([], files=set(), sources=names, full_pull=args.full)
        else:
            report = engine.run(args.selectors, full_refresh=args.full_refresh)
    except LockedError as locked:
        if pulling:
            outcome = hand_over(engine, locked, "pull", args={"sources": names, "full": args.full})
        else:
            outcome = hand_over(engine, locked, "run", selectors=args.selectors, full_refresh=args.full_refresh)
        whose = "the workbench's" if locked.role == "workbench" else "the watcher's"
        if outcome.status == "failed":
            err(f"{whose} run {outcome.run_id or ''} FAILED: {outcome.message}")
            return EXIT_FAILED
        err(f"{whose} run {outcome.run_id}: {outcome.status} (`rat status` has the details)")
        return EXIT_OK
    finally:
        engine.close()
    if report.status == "noop":
        err(f"nothing to do: no new files in landing/, every model up to date ({report.seconds:.2f}s)")
        return EXIT_OK
    err(run_summary(report))
    if report.unreadable:
        path, reason = report.unreadable[0]
        more = len(report.unreadable) - 1
        others = f" (and {more} more file{'s' if more != 1 else ''} like it)" if more else ""
        err(f"error: {unreadable_line(path, reason)}{others}, then run again: it waits in landing/")
    return EXIT_FAILED if report.status == "failed" else EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading
    from datetime import datetime

    from rat_tui.engine.watch import Watcher
    from rat_tui.narration import describe_event, event_json

    engine = engine_for(args)
    watcher = Watcher(engine)
    lock = threading.Lock()

    def log(event: Any) -> None:
        now = datetime.now().astimezone()
        with lock:
            if args.json:
                sys.stdout.write(event_json(event, now) + "\n")
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
    engine = engine_for(args)
    session = engine.query_session()
    try:
        if fmt == "table":
            result = stream(session, args.sql)
            if result is None:
                from rat_tui.engine.errors import RatError

                raise RatError('no statement to run: the SQL is empty or only comments; try "select 42"')
            if not args.output:
                render_result(result, sys.stdout, max_rows)
                sys.stdout.flush()
                return EXIT_OK
            with new_text_file(Path(args.output)) as fh:
                shown, total = render_result(result, fh, max_rows)
            if shown < total:
                err(f"wrote the first {shown:,} of {total:,} rows to {args.output}; --max-rows 0 writes them all")
            else:
                err(f"wrote {plural(total, 'row')} to {args.output}")
            return EXIT_OK
        if args.output:
            count = export(session, args.sql, fmt, Path(args.output))
            err(f"wrote {plural(count, 'row')} to {args.output}")
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
    from rat_tui.output import render_status, write_json

    engine = engine_for(args)
    try:
        status = engine.status()
    finally:
        engine.close()
    if args.json:
        write_json(status.to_json(), sys.stdout)
    else:
        render_status(status, sys.stdout)
    if args.check:
        found = problems(status)
        if found:
            err(
                f"{len(found)} problem{'s' if len(found) != 1 else ''} need attention: {found[0]}"
                + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
            )
            return EXIT_FAILED
    return EXIT_OK


COMMANDS = {
    "init": cmd_init,
    "demo": cmd_demo,
    "run": cmd_run,
    "pull": cmd_run,
    "watch": cmd_watch,
    "query": cmd_query,
    "status": cmd_status,
    "history": cmd_history,
    "diff": cmd_diff,
    "rollback": cmd_rollback,
    "vacuum": cmd_vacuum,
    "serve": cmd_serve,
    "backup": cmd_backup,
    "restore": cmd_restore,
}
