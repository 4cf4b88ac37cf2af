"""Delta tables under lake/<layer>/<table>/: read versions, commit staged files atomically, expose to DuckDB.

Writers stage Parquet files inside the table's folder under fresh names; they are invisible to every
Delta reader until `publish` adds them to the log in one commit. A crash before the commit leaves
only unreferenced files (vacuum removes them), never a partial version.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

from rat_tui.engine.workspace import LAYERS, Workspace


@dataclass(frozen=True)
class TableInfo:
    """One Delta table's current version, as a reader sees it."""

    name: str
    layer: str
    path: Path
    version: int
    rows: int
    files: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, delta type)
    updated_at: str | None
    sql_columns: tuple[tuple[str, str], ...] = ()  # (name, the type as DuckDB's SQL names it)


def is_table(path: Path) -> bool:
    """A committed version exists: a `_delta_log/` holding only a temporary entry is what a process
    killed inside a table's first commit leaves, and no Delta reader can open it."""
    return latest_version(path) is not None


def list_tables(ws: Workspace) -> list[str]:
    """`layer.table` for every Delta table in the lake, bronze first."""
    out: list[str] = []
    for layer in LAYERS:
        folder = ws.lake / layer
        if folder.is_dir():
            out.extend(f"{layer}.{p.name}" for p in sorted(folder.iterdir()) if is_table(p))
    return out


def latest_version(path: Path) -> int | None:
    """The newest committed version, read from the log's file names (no table load)."""
    log = path / "_delta_log"
    try:
        names = os.listdir(log)
    except FileNotFoundError:
        return None
    versions = [int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json") and n[:20].isdigit()]
    if not versions:
        return None
    # A checkpointed log may have dropped old JSON files, never the newest.
    return max(versions)


# Delta operations (commitInfo.operation, as delta-rs and Spark write them) that clean up, compact
# or annotate a table without changing its rows: they must not make a model that reads it stale.
MAINTENANCE_OPERATIONS = frozenset(
    {
        "VACUUM START",
        "VACUUM END",
        "OPTIMIZE",
        "REORG",
        "SET TBLPROPERTIES",
        "UNSET TBLPROPERTIES",
        "UPGRADE PROTOCOL",
        "ADD FEATURE",
        "DROP FEATURE",
        "ADD CONSTRAINT",
        "DROP CONSTRAINT",
        "COMPUTE STATS",
    }
)

# str(path) -> (latest version, its log file's mtime_ns, data version): a watcher asks on every run.
_data_versions: dict[str, tuple[int, int, int]] = {}


def _log_file(path: Path, version: int) -> Path:
    return path / "_delta_log" / f"{version:020d}.json"


def is_maintenance(path: Path, version: int) -> bool | None:
    """Whether the commit of `version` only maintains the table (a vacuum, a compaction, a property):
    a maintenance operation that adds or removes no file as a data change. None when its log file is
    gone (a checkpoint replaced it)."""
    try:
        fh = open(_log_file(path, version), encoding="utf-8")
    except FileNotFoundError:
        return None
    operation = None
    with fh:
        for line in fh:
            if not line.strip():
                continue
            action = json.loads(line)
            if "commitInfo" in action:
                operation = action["commitInfo"].get("operation")
                if operation not in MAINTENANCE_OPERATIONS:
                    return False  # commitInfo comes first: a data commit's many adds are not read
            for kind in ("add", "remove"):
                if kind in action and action[kind].get("dataChange", True):
                    return False
    return operation in MAINTENANCE_OPERATIONS


def data_version(path: Path, at: int | None = None) -> int | None:
    """The newest version (no newer than `at`, default the latest) whose commit changed the table's
    data: what a model records of its inputs, so a vacuum or a compaction makes nothing stale. A
    commit whose log is gone counts as data (a needless rebuild, never a missed change)."""
    latest = latest_version(path)
    if latest is None:
        return None
    if at is not None and at < latest:
        return _walk_back(path, max(at, 0))
    try:
        stamp = _log_file(path, latest).stat().st_mtime_ns  # a table dropped and built again differs
    except FileNotFoundError:
        stamp = 0
    cached = _data_versions.get(str(path))
    if cached is not None and cached[:2] == (latest, stamp):
        return cached[2]
    version = _walk_back(path, latest)
    _data_versions[str(path)] = (latest, stamp, version)
    return version


def _walk_back(path: Path, version: int) -> int:
    while version > 0 and is_maintenance(path, version):
        version -= 1
    return version


def open_table(path: Path) -> DeltaTable | None:
    from deltalake import DeltaTable

    if not is_table(path):
        return None
    return DeltaTable(str(path))


def table_info(name: str, path: Path) -> TableInfo | None:
    """Version, row count (from the log's statistics, no scan), files and schema."""
    dt = open_table(path)
    if dt is None:
        return None

    rows = count_rows(dt)
    files = tuple(dt.file_uris())
    fields = dt.schema().fields
    columns = tuple((f.name, _type_name(f.type)) for f in fields)
    updated = None
    history = dt.history(1)
    if history and history[0].get("timestamp"):
        updated = datetime.fromtimestamp(history[0]["timestamp"] / 1000, UTC).isoformat(timespec="seconds")
    sql_columns = tuple((f.name, sql_type(f.type)) for f in fields)
    return TableInfo(name, name.split(".")[0], path, dt.version(), rows, files, columns, updated, sql_columns)


def file_rows(dt: DeltaTable) -> dict[str, int]:
    """Rows per data file of the current version (paths relative to the table), from the log."""
    import pyarrow as pa

    actions = pa.table(dt.get_add_actions(flatten=True))
    if not actions.num_rows:
        return {}
    paths = actions.column("path").to_pylist()
    if "num_records" not in actions.column_names:
        return dict.fromkeys(paths, 0)
    return {p: int(n or 0) for p, n in zip(paths, actions.column("num_records").to_pylist(), strict=True)}


def count_rows(dt: DeltaTable) -> int:
    """Rows of the current version, summed from the log's per-file statistics."""
    return sum(file_rows(dt).values())


def files_at(path: Path, version: int) -> list[str]:
    """The data files (absolute) of an older version."""
    from deltalake import DeltaTable

    return list(DeltaTable(str(path), version=version).file_uris())


def relative(table_path: Path, uri: str) -> str:
    """A file's path inside the table, as the Delta log writes it."""
    return os.path.relpath(uri.removeprefix("file://"), table_path)


def _type_name(t: Any) -> str:
    return getattr(t, "type", None) or str(t)


_SQL_TYPES = {"string": "VARCHAR", "long": "BIGINT", "integer": "INTEGER", "short": "SMALLINT", "byte": "TINYINT",
              "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN", "binary": "BLOB", "date": "DATE",
              "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP"}  # fmt: skip


def _field_name(name: str) -> str:
    return name if name.isidentifier() and name.isascii() else '"' + name.replace('"', '""') + '"'


def sql_type(t: Any) -> str:
    """A Delta column type as DuckDB's SQL names it (what a query reads and a cast writes), the one
    vocabulary of the workbench: the lake tree, completion and the table screen's schema."""
    kind = getattr(t, "type", "")
    if kind == "array":
        return f"{sql_type(t.element_type)}[]"
    if kind == "map":
        return f"MAP({sql_type(t.key_type)}, {sql_type(t.value_type)})"
    if kind == "struct":
        return "STRUCT(" + ", ".join(f"{_field_name(f.name)} {sql_type(f.type)}" for f in t.fields) + ")"
    if kind.startswith("decimal"):
        return kind.upper().replace(" ", "")
    return _SQL_TYPES.get(kind, kind.upper() or str(t))


def arrow_schema(dt: DeltaTable) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(dt.schema().to_arrow())


def nullable(schema: pa.Schema) -> pa.Schema:
    """Every column nullable: DuckDB marks GROUP BY keys NOT NULL, and a NOT NULL column in the
    table's schema would make a later append with a NULL fail."""
    import pyarrow as pa

    return pa.schema([f.with_nullable(True) for f in schema], metadata=schema.metadata)


def same_columns(a: pa.Schema, b: pa.Schema) -> bool:
    """Same column names and Delta types, in the same order (nullability aside)."""
    from deltalake import Schema

    return Schema.from_arrow(nullable(a)).to_json() == Schema.from_arrow(nullable(b)).to_json()


def stage_path(table_path: Path, batch: str) -> Path:
    """A fresh file name in the table's folder for staged data."""
    table_path.mkdir(parents=True, exist_ok=True)
    return table_path / f"part-{batch}-{uuid.uuid4().hex[:12]}.zstd.parquet"


def _add_action(table_path: Path, file: Path) -> Any:
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    meta = pq.read_metadata(file)
    st = file.stat()
    stats = {"numRecords": meta.num_rows}
    return AddAction(
        str(file.relative_to(table_path)), st.st_size, {}, int(st.st_mtime * 1000), True, json.dumps(stats)
    )


def _commit_properties(
    run_id: str, operation: str, written: int, total: int, extra: dict[str, str] | None = None
) -> Any:
    from deltalake import CommitProperties

    meta = {"rat.run": run_id, "rat.operation": operation, "rat.rows_written": str(written), "rat.rows": str(total)}
    return CommitProperties(custom_metadata={**meta, **(extra or {})})


def staged_rows(files: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in files)


def publish(
    table_path: Path,
    files: list[Path],
    schema: pa.Schema,
    mode: str,
    run_id: str,
    operation: str,
    removes: list[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> int:
    """Make staged files the table's next version in one commit; return that version.

    mode "append" adds the files (and drops `removes`, paths relative to the table, in the same
    commit: how a merge or a partition replacement rewrites only the files it touches);
    "overwrite" replaces every current file. `schema` is the schema of the staged files: on
    append, columns the table lacks are added in the same commit. `metadata` goes into the
    commit's info beside rat's own keys (an ingest's schema changes).
    """
    from deltalake import Schema, write_deltalake
    from deltalake.transaction import RemoveAction, create_table_with_add_actions

    try:
        rows = staged_rows(files)
        dt = open_table(table_path)
        if dt is not None and mode == "append":
            current = file_rows(dt)
            total = rows + sum(current.values()) - sum(current.get(r, 0) for r in removes or [])
        else:
            total = rows
        props = _commit_properties(run_id, operation, rows, total, metadata)
        schema = nullable(schema)
        delta_schema = Schema.from_arrow(schema)
        if dt is not None and removes:
            now_ms = int(datetime.now(UTC).timestamp() * 1000)
            actions = [RemoveAction(r, True, now_ms) for r in removes]
            dt.create_write_transaction(
                actions + [_add_action(table_path, f) for f in files],
                mode="append",
                schema=arrow_schema(dt),
                commit_properties=props,
            )
        elif dt is None:
            create_table_with_add_actions(
                str(table_path),
                delta_schema,
                [_add_action(table_path, f) for f in files],
                mode="error",
                commit_properties=props,
            )
        elif mode == "overwrite":
            dt.create_write_transaction(
                [_add_action(table_path, f) for f in files],
                mode="overwrite",
                schema=delta_schema,
                commit_properties=props,
            )
        elif set(schema.names) <= set(arrow_schema(dt).names):
            dt.create_write_transaction(
                [_add_action(table_path, f) for f in files],
                mode="append",
                schema=arrow_schema(dt),
                commit_properties=props,
            )
        else:
            # New columns: only a schema-merging write updates the table's metadata in the same commit.
            import pyarrow.dataset as ds

            reader = ds.dataset([str(f) for f in files], schema=schema, format="parquet").scanner().to_reader()
            write_deltalake(str(table_path), reader, mode="append", schema_mode="merge", commit_properties=props)
            for f in files:
                f.unlink(missing_ok=True)
    except BaseException:
        for f in files:
            f.unlink(missing_ok=True)
        raise
    version = latest_version(table_path)
    assert version is not None
    return version


def history(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The table's versions, newest first, with rat's run id and row counts where rat wrote them."""
    dt = open_table(path)
    if dt is None:
        return []
    from deltalake import DeltaTable

    out = []
    for h in dt.history(limit):
        if "rat.rows" in h:
            rows = int(h["rat.rows"])
        else:  # a commit rat did not write (vacuum, another engine): count that version's files
            try:
                rows = count_rows(DeltaTable(str(path), version=h["version"]))
            except Exception:
                rows = None
        maintenance = is_maintenance(path, h["version"])
        if maintenance is None:
            maintenance = h.get("operation") in MAINTENANCE_OPERATIONS
        entry = {
            "version": h.get("version"),
            "timestamp": datetime.fromtimestamp(h["timestamp"] / 1000, UTC).isoformat(timespec="milliseconds"),
            "operation": h.get("rat.operation") or h.get("operation"),
            "rows": rows,
            "run": h.get("rat.run"),
            "maintenance": maintenance,  # no data change: models reading the table stay up to date
        }
        if h.get("rat.schema_changes"):  # what an ingest added to or changed in the table's columns
            try:
                entry["schema_changes"] = json.loads(h["rat.schema_changes"])
            except ValueError:
                pass
        out.append(entry)
    return out
