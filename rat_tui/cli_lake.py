"""`rat history`, `rat diff`, `rat rollback`, `rat vacuum`: a table's versions."""

from __future__ import annotations

import argparse
import json
import sys

from rat_tui.cli_common import EXIT_OK, engine_for, err, hand_over, usage


def cmd_history(args: argparse.Namespace) -> int:
    from rat_tui.output import render_table

    engine = engine_for(args)
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
    kept = f"versions of the last {args.retain} keep their files" if hours else ""
    if not removed:
        err("vacuum: nothing to delete" + (f"; {kept}" if kept else ""))
        return EXIT_OK
    for table, count in removed.items():
        err(f"vacuumed {table}: {count} file{'s' if count != 1 else ''} deleted")
    files, tables = sum(removed.values()), len(removed)
    done = f"{files} file{'s' if files != 1 else ''} deleted from {tables} table{'s' if tables != 1 else ''}"
    err(f"vacuum done: {done}" + (f" ({kept})" if kept else ""))
    return EXIT_OK
