"""A table's versions: compare two (diff), publish an old one again (rollback), delete old files
(vacuum); and which table a short name (`orders`) means."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import RatError
from rat_tui.engine.query import first_row, quote_ident
from rat_tui.engine.workspace import LAYERS

if TYPE_CHECKING:
    from rat_tui.engine.query import Session
    from rat_tui.engine.workspace import Workspace

LINEAGE = ("_source_file", "_ingested_at", "_batch_id")


@dataclass
class Diff:
    """Rows added, removed and changed between two versions of a table."""

    table: str
    from_version: int
    to_version: int
    key: list[str]
    added: int
    removed: int
    changed: int
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # with --rows: each with "_change"

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "rows"}
        out["from"], out["to"] = out.pop("from_version"), out.pop("to_version")
        return out


def resolve_table(ws: Workspace, name: str) -> str:
    """`layer.table` for a table named in full, or by its table name alone when exactly one layer
    has it (`invoices` -> `silver.invoices`); RatError listing the candidates otherwise."""
    name = name.strip().lower()
    tables = lake.list_tables(ws)
    if name in tables:
        return name
    if "." not in name:
        found = [f"{layer}.{name}" for layer in LAYERS if f"{layer}.{name}" in tables]
        if len(found) == 1:
            return found[0]
        if found:
            raise RatError(f"`{name}` is ambiguous: {', '.join(found)}; name the layer")
    import difflib

    # A typo of the full name, or of the table name alone (then in every layer that has it).
    close = difflib.get_close_matches(name, tables, n=3, cutoff=0.6)
    shorts = sorted({t.split(".", 1)[1] for t in tables})
    for short in difflib.get_close_matches(name.split(".")[-1], shorts, n=3, cutoff=0.6):
        close += [t for t in tables if t.split(".", 1)[1] == short]
    guesses = list(dict.fromkeys(close))[:3]
    hint = f"did you mean {', '.join(guesses)}? " if guesses else ""
    raise RatError(f"table `{name}` does not exist; {hint}`rat status` lists the tables")


def _version_schema(path: Path, version: int) -> Any:
    from deltalake import DeltaTable

    return lake.arrow_schema(DeltaTable(str(path), version=version))


def view_named(views: Iterable[str], name: str) -> str | None:
    """The view model `name` means (`gold.totals`, or `totals` where one layer has it), if one."""
    name = name.strip().lower()
    found = [v for v in views if name in (v, v.split(".", 1)[1])]
    return found[0] if len(found) == 1 else None


def check_readable_version(path: Path, table: str, version: int, hint: str = "") -> None:
    """RatError unless the table has `version` (a reader's time travel: the API, rat serve)."""
    latest = lake.latest_version(path) or 0
    if not 0 <= version <= latest:
        raise RatError(f"{table} has versions 0 to {latest}, not {version}{hint}")


def _check_version(path: Path, table: str, version: int) -> None:
    latest = lake.latest_version(path)
    if latest is None or not 0 <= version <= latest:
        raise RatError(f"{table} has no version {version}; `rat history {table}` lists them (0 to {latest})")


def _files(path: Path, table: str, version: int) -> list[str]:
    files = lake.files_at(path, version)
    missing = [f for f in files if not Path(f.removeprefix("file://")).exists()]
    if missing:
        raise RatError(f"{table} version {version}: its data files were removed by `rat vacuum`; pick a newer version")
    return files


def diff(
    session: Session, path: Path, table: str, v1: int, v2: int, key: list[str], with_rows: bool, limit: int = 1000
) -> Diff:
    """Compare versions v1 and v2 (by `key` when given: a changed row keeps its key)."""
    for v in (v1, v2):
        _check_version(path, table, v)
    s1, s2 = _version_schema(path, v1), _version_schema(path, v2)
    common = [c for c in s2.names if c in s1.names]
    con = session.con
    old = session.files_sql(_files(path, table, v1), s1, "__rat_diff_e1")
    new = session.files_sql(_files(path, table, v2), s2, "__rat_diff_e2")
    con.execute(f"CREATE OR REPLACE TEMP VIEW __rat_old AS {old}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW __rat_new AS {new}")
    key = [k for k in key if k in common]
    cols = ", ".join(quote_ident(c) for c in common)
    # Lineage columns say when a row was ingested, not what it says: a re-ingested row is unchanged.
    compared = [c for c in common if c not in key and c not in LINEAGE]
    queries: dict[str, str]
    if key:
        on = " AND ".join(f"o.{quote_ident(k)} IS NOT DISTINCT FROM n.{quote_ident(k)}" for k in key)
        differs = " OR ".join(f"o.{quote_ident(c)} IS DISTINCT FROM n.{quote_ident(c)}" for c in compared) or "false"
        queries = {
            "added": f"SELECT n.* FROM __rat_new n WHERE NOT EXISTS (SELECT 1 FROM __rat_old o WHERE {on})",
            "removed": f"SELECT o.* FROM __rat_old o WHERE NOT EXISTS (SELECT 1 FROM __rat_new n WHERE {on})",
            "changed": f"SELECT n.* FROM __rat_new n JOIN __rat_old o ON {on} WHERE {differs}",
        }
    else:
        queries = {
            "added": f"SELECT {cols} FROM __rat_new EXCEPT ALL SELECT {cols} FROM __rat_old",
            "removed": f"SELECT {cols} FROM __rat_old EXCEPT ALL SELECT {cols} FROM __rat_new",
        }
    counts = {name: int(first_row(con.execute(f"SELECT count(*) FROM ({q})"))[0]) for name, q in queries.items()}
    result = Diff(
        table,
        v1,
        v2,
        key,
        counts["added"],
        counts["removed"],
        counts.get("changed", 0),
        [c for c in s2.names if c not in s1.names],
        [c for c in s1.names if c not in s2.names],
    )
    if with_rows:
        for name, q in queries.items():
            rel = con.sql(f"SELECT * FROM ({q}) LIMIT {limit}")
            result.rows += [{"_change": name, **dict(zip(rel.columns, r, strict=True))} for r in rel.fetchall()]
    return result


def check_rollback(path: Path, table: str, version: int) -> list[str]:
    """The files of `version` if the table can be rolled back to it; else RatError saying why (no
    such version, the current one, its files vacuumed). Asked before a rollback starts its run."""
    _check_version(path, table, version)
    if version == lake.latest_version(path):
        raise RatError(
            f"{table} is already at version {version}: nothing to roll back; `rat history {table}` lists them"
        )
    return _files(path, table, version)


def rollback(path: Path, table: str, version: int, run_id: str) -> int:
    """Publish `version` again as a new commit; return the new version."""
    from deltalake import CommitProperties, DeltaTable

    files = check_rollback(path, table, version)
    rows = lake.staged_rows([Path(f.removeprefix("file://")) for f in files])
    meta = {"rat.run": run_id, "rat.operation": f"rollback to {version}", "rat.rows": str(rows)}
    DeltaTable(str(path)).restore(version, commit_properties=CommitProperties(custom_metadata=meta))
    new = lake.latest_version(path)
    assert new is not None
    return new


_RETAIN = re.compile(r"^\s*(\d+)\s*([dhm]?)\s*$")


def parse_retention(text: str) -> int:
    """'7d', '12h', '30m' or '0' -> hours (minutes round up to a whole hour)."""
    m = _RETAIN.match(text)
    if not m:
        raise RatError(f"--retain {text!r} is not a duration; write 7d, 12h or 0")
    n, unit = int(m.group(1)), m.group(2) or "h"
    return {"d": n * 24, "h": n, "m": -(-n // 60)}[unit]


def vacuum(path: Path, retain_hours: int) -> list[str]:
    """Delete data files no version younger than the retention needs, and never the current one's;
    files left by interrupted builds go too once older than the retention. Return the files that
    existed and are gone.

    delta-rs lists every expired remove action, also those whose files an earlier vacuum deleted, and
    commits VACUUM START and END for them: so a dry run first, and no vacuum (no commit) unless one
    of the files it lists is still there."""
    from deltalake import DeltaTable

    dt = DeltaTable(str(path))

    def listed(dry_run: bool) -> list[str]:
        return list(dt.vacuum(retain_hours, dry_run, enforce_retention_duration=False, full=True))

    present = [f for f in listed(dry_run=True) if (path / f).exists()]
    if not present:
        return []
    listed(dry_run=False)
    return [f for f in present if not (path / f).exists()]
