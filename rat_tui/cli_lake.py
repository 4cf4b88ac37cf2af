"""`rat history`, `rat diff`, `rat rollback`, `rat vacuum`: a table's versions; `rat backup` and
`rat restore`: the whole workspace's."""

from __future__ import annotations

import argparse
import sys

from rat_tui.cli_common import EXIT_OK, engine_for, err, hand_over, usage


def cmd_history(args: argparse.Namespace) -> int:
    from rat_tui.output import render_history, write_json

    engine = engine_for(args)
    try:
        versions = engine.history(args.table)
    finally:
        engine.close()
    if args.json:
        write_json(versions, sys.stdout)
    else:
        render_history(versions, sys.stdout)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from rat_tui.output import render_diff, write_json

    if len(args.versions) > 2:
        raise usage("rat diff takes at most two versions: TABLE [V1 [V2]]")
    v1 = args.versions[0] if args.versions else None
    v2 = args.versions[1] if len(args.versions) > 1 else None
    engine = engine_for(args)
    try:
        d = engine.diff(args.table, v1, v2, rows=args.rows)
    finally:
        engine.close()
    if args.json:
        out = d.summary()
        if args.rows:
            out["rows"] = d.rows
        write_json(out, sys.stdout)
    else:
        render_diff(d, sys.stdout, rows=args.rows)
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from rat_tui.engine.errors import LockedError

    engine = engine_for(args)
    try:
        table = engine.resolve_table(args.table)
        try:
            new = engine.rollback(table, args.version)
        except LockedError as locked:
            what = {"table": table, "version": args.version}
            new = int(hand_over(engine, locked, "rollback", args=what).result["version"])
    finally:
        engine.close()
    err(f"{table} is now version {new}, with the content of version {args.version}")
    return EXIT_OK


def cmd_vacuum(args: argparse.Namespace) -> int:
    from rat_tui.engine.errors import LockedError
    from rat_tui.engine.versions import parse_retention

    hours = parse_retention(args.retain)
    engine = engine_for(args)
    try:
        try:
            removed = engine.vacuum(hours)
        except LockedError as locked:
            deleted = hand_over(engine, locked, "vacuum", args={"retain_hours": hours}).result.get("deleted", {})
            removed = {table: int(n) for table, n in deleted.items()}
    finally:
        engine.close()
    from rat_tui.output import vacuum_lines

    for line in vacuum_lines(removed, args.retain if hours else None):
        err(line)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rat_tui.engine import plural

    engine = engine_for(args)
    try:
        report = engine.backup(Path(args.dest))
    finally:
        engine.close()
    err(
        f"backed up {plural(len(report.tables), 'table')} ({plural(report.files, 'file')}, "
        f"{report.bytes / 2**20:,.1f} MB) to {report.dest} in {report.seconds:.2f}s"
    )
    for path in report.landing_skipped:
        err(f"skipped {path}: it changed while being copied (still being written); the next backup takes it")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rat_tui.engine import plural
    from rat_tui.engine.backup import restore

    tables = restore(Path(args.backup), Path(args.dir))
    err(f"restored {plural(len(tables), 'table')} into {args.dir}; `rat status -w {args.dir}` shows them")
    return EXIT_OK
