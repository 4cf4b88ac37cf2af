"""The `rat` command line's arguments: every command, its options and its help."""

from __future__ import annotations

import argparse

from rat_tui._version import __version__
from rat_tui.output import FORMATS, MAX_ROWS

TABLE_HELP = "layer.table, or the table name alone where one layer has it (orders)"


def build_parser() -> argparse.ArgumentParser:
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
        "pull",
        parents=[common],
        help="pull sources now and ingest what they landed",
        description="Pull the named sources of rat.toml (all by default) now, whether they are due or not, and "
        "ingest what they landed into bronze. Exits 1 naming each source that failed.",
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="a [sources.<name>] of rat.toml (default: all)")
    p.add_argument("--full", action="store_true", help="incremental sources start again from their initial value")

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

    p = sub.add_parser(
        "backup",
        parents=[common],
        help="a consistent copy of the workspace, also while rat watch runs",
        description="Copy the workspace to DEST (new or empty): the state database through SQLite's online "
        "backup, each table at one consistent version with its history, models, rat.toml, landing/ and "
        "the quarantine. While rat watch or the workbench writes, it takes the snapshot between two runs.",
    )
    p.add_argument("dest", metavar="DEST", help="the folder to write (outside the workspace)")
    p = sub.add_parser(
        "restore",
        parents=[common],
        help="bring a backup back as a workspace",
        description="Restore BACKUP (a folder `rat backup` wrote) as the workspace DIR (new or empty).",
    )
    p.add_argument("backup", metavar="BACKUP")
    p.add_argument("dir", metavar="DIR")

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="HTTP: the query API, the status page and the workbench in a browser",
        description="Serve the workspace read-only over HTTP: /api (tables, SQL queries streamed as json, "
        "ndjson, csv, arrow or parquet; /api/openapi.json describes it), a status page at / and the "
        "workbench at /workbench. Any address but 127.0.0.1 requires a token.",
    )
    p.add_argument("--host", default=None, help="the address to bind (default [serve] host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="the port (default [serve] port, 8642)")
    p.add_argument(
        "--token-env",
        metavar="VAR",
        default=None,
        help='the environment variable holding the bearer token (or [serve] token = "${VAR}")',
    )
    return parser


def _row_count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r} (0 prints them all)")
    return int(text)
