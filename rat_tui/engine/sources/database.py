"""Pulling a Postgres source's tables into bronze: rows stream from the server as Arrow batches
(ADBC, chosen by bench/db_drivers.py: as fast as connectorx and the one that keeps every digit of
a numeric) through a Parquet file staged in the table's folder into one Delta commit per table,
with the cursor that follows them in that commit's metadata. Memory stays flat: a batch at a time.

- `snapshot`: the whole table, published as the bronze table's next version (an overwrite).
- `incremental`: rows whose cursor is `>=` the newest value bronze holds and `<=` the newest value
  the table held when the pull started (fixed then), appended; the rows on the boundary value that
  bronze already holds are dropped by primary key.

Types: numeric(p,s) as DECIMAL(p,s); numeric without a precision (or past 38 digits) as its exact
text; uuid, json/jsonb, enums, time and interval as text; bytea as binary; arrays as lists;
timestamps with a time zone in UTC, without one as they are.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rat_tui.engine.errors import first_line
from rat_tui.engine.sources.cursor import STATE_KEY, current_columns
from rat_tui.engine.sources.db_spec import DbSource, DbTable
from rat_tui.engine.sources.http import PullResult
from rat_tui.engine.sources.requester import SourceError
from rat_tui.engine.sources.secrets import MissingVariable, Secrets

if TYPE_CHECKING:
    import pyarrow as pa

    from rat_tui.engine.workspace import Workspace

__all__ = ["SourceError", "pull_database"]

COLUMNS = """select column_name, data_type, udt_name, numeric_precision, numeric_scale
             from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position"""
PRIMARY_KEY = """select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                 where i.indrelid = cast($1 as regclass) and i.indisprimary order by array_position(i.indkey, a.attnum)"""


def _url(source: DbSource, secrets: Secrets) -> str:
    if source.dsn:
        url = secrets.resolve(source.dsn, "dsn")
        secrets.add(url)
        return url
    from urllib.parse import quote

    password = secrets.resolve(source.password, "password")
    if password:
        secrets.add(password)
    who = quote(secrets.resolve(source.user, "user"), safe="")
    auth = f"{who}:{quote(password, safe='')}@" if password else (f"{who}@" if who else "")
    return f"postgresql://{auth}{secrets.resolve(source.host, 'host')}:{source.port}/{secrets.resolve(source.database, 'database')}"


def pull_database(
    source: DbSource, ws: Workspace, run_id: str, full: bool = False, env: Mapping[str, str] | None = None
) -> PullResult:
    """Pull every table of the source; a table that fails fails the pull (those before it stay
    committed: each is a commit of its own)."""
    secrets = Secrets(os.environ if env is None else env)
    try:
        url = _url(source, secrets)
    except MissingVariable as exc:
        raise SourceError(
            f"environment variable {exc.name} is not set (sources.{source.name}.{exc.where} uses it); "
            "set it in the environment rat runs in"
        ) from None
    import adbc_driver_postgresql.dbapi as pg

    try:
        con = pg.connect(url)
    except Exception as exc:
        raise SourceError(
            secrets.redact(f"cannot connect to {source.display_url}: {first_line(exc)}; check sources.{source.name}")
        ) from None
    total = 0
    try:
        for table in source.tables:
            try:
                total += _pull_table(con, source, table, ws, run_id, full)
            except SourceError:
                raise
            except Exception as exc:
                raise SourceError(
                    secrets.redact(f"pulling {table.name} from {source.display_url} failed: {first_line(exc)}")
                ) from None
    finally:
        con.close()
    return PullResult(total, len(source.tables), None)


def _catalog(con: Any, table: DbTable) -> list[tuple[str, str, str, int | None, int | None]]:
    schema, name = table.name.split(".", 1)
    with con.cursor() as cur:
        cur.execute(COLUMNS, (schema, name))
        rows = cur.fetchall()
    if not rows:
        raise SourceError(f"{table.name}: no such table (or no columns rat may read); check the tables setting")
    return rows


def _primary_key(con: Any, table: DbTable) -> tuple[str, ...]:
    if table.primary_key:
        return table.primary_key
    with con.cursor() as cur:
        cur.execute(PRIMARY_KEY, (table.name,))
        return tuple(r[0] for r in cur.fetchall())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pull_table(con: Any, source: DbSource, table: DbTable, ws: Workspace, run_id: str, full: bool) -> int:
    import pyarrow.parquet as pq

    from rat_tui.engine import lake

    catalog = _catalog(con, table)
    path = ws.table_path(source.table_of(table))
    relation = ".".join(_quoted(p) for p in table.name.split(".", 1))
    incremental = table.mode == "incremental" and not full
    where, boundary, cursor_type = "", _Boundary(), ""
    params: tuple[Any, ...] = ()
    if incremental:
        types = {c[0]: c[1] for c in catalog}
        if table.cursor not in types:
            raise SourceError(f"{table.name} has no column {table.cursor} (its cursor); check the cursor setting")
        cursor_type = types[table.cursor]
        with con.cursor() as cur:
            cur.execute(f"select max({_quoted(table.cursor)}) from {relation}")
            upper = cur.fetchone()[0]
        if upper is None:
            return 0  # an empty table: nothing to pull yet
        boundary = _Boundary.of(path, table.cursor, _primary_key(con, table))
        col = _quoted(table.cursor)
        if boundary.value is None:
            where, params = f" where {col} <= $1", (upper,)
        else:
            where, params = f" where {col} >= $1 and {col} <= $2", (boundary.value, upper)
    batch_id = f"{run_id}-{uuid.uuid4().hex[:8]}"
    stage = lake.stage_path(path, batch_id)
    rows, newest = 0, None
    at = datetime.now(UTC)
    try:
        with con.cursor() as cur:
            cur.execute(f"select * from {relation}{where}", params or None)
            reader = cur.fetch_record_batch()
            writer = None
            for raw in reader:
                batch = boundary.drop(_delta_safe(raw, catalog))
                if batch.num_rows == 0:
                    continue
                batch = _with_lineage(batch, f"{source.type}:{source.name}/{table.name}", at, batch_id)
                if writer is None:
                    writer = pq.ParquetWriter(stage, batch.schema, compression="zstd")
                writer.write_batch(batch)
                rows += batch.num_rows
                if incremental:
                    import pyarrow.compute as pc

                    top = pc.max(batch.column(table.cursor)).as_py()
                    newest = top if newest is None or (top is not None and top > newest) else newest
            if writer is not None:
                writer.close()
        if rows == 0 and incremental:
            stage.unlink(missing_ok=True)
            return 0
        if writer is None:  # a snapshot of an empty table: an empty version says so
            import pyarrow as pa

            schema = _with_lineage(_delta_safe(pa.record_batch([], schema=reader.schema), catalog), "", at, "").schema
            pq.write_table(schema.empty_table(), stage)
        state = {
            "mode": table.mode,
            "cursor": None if newest is None else str(newest),
            "cursor_type": cursor_type or None,
            "rows": rows,
            "pulled_at": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        schema = pq.read_schema(stage)
        lake.publish(
            path, [stage], schema, "append" if incremental else "overwrite", run_id, f"pull {batch_id}",
            metadata={STATE_KEY: json.dumps(state, separators=(",", ":"))},
        )  # fmt: skip
    except BaseException:
        stage.unlink(missing_ok=True)
        raise
    return rows


class _Boundary:
    """The rows bronze already holds on its newest cursor value: the next pull asks for `>=` that
    value and drops these (by primary key); only the ties on one value are kept in memory."""

    def __init__(
        self, value: Any = None, column: str = "", keys: tuple[str, ...] = (), seen: set[tuple] | None = None
    ) -> None:
        self.value, self.column, self.keys, self.seen = value, column, keys, seen or set()

    @classmethod
    def of(cls, path: Any, column: str, keys: tuple[str, ...]) -> _Boundary:
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        from rat_tui.engine import lake

        dt = lake.open_table(path)
        if dt is None or column not in lake.arrow_schema(dt).names:
            return cls()
        newest = pc.max(current_columns(dt, [column]).column(0))
        if not newest.is_valid:
            return cls()
        if not keys:
            raise SourceError(
                "an incremental table needs its primary key to drop the rows on the boundary value it has "
                "already landed; it has none in the catalog: set primary_key for it"
            )
        tied = current_columns(dt, [*keys, column] if column not in keys else list(keys), ds.field(column) == newest)
        return cls(newest.as_py(), column, keys, set(zip(*(tied.column(k).to_pylist() for k in keys), strict=True)))

    def drop(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.seen:
            return batch
        import pyarrow as pa

        values = batch.column(self.column).to_pylist()
        keys = list(zip(*(batch.column(k).to_pylist() for k in self.keys), strict=True))
        keep = [not (v == self.value and k in self.seen) for v, k in zip(values, keys, strict=True)]
        return batch.filter(pa.array(keep))


def _delta_safe(batch: pa.RecordBatch, catalog: list[tuple[str, str, str, int | None, int | None]]) -> pa.RecordBatch:
    """Each column as Delta stores it, by its type in the catalog (see the module's docstring)."""
    import pyarrow as pa

    info = {c[0]: c for c in catalog}
    arrays, fields = [], []
    for f, column in zip(batch.schema, batch.columns, strict=True):
        _, data_type, _, precision, scale = info.get(f.name, (f.name, "", "", None, None))
        if isinstance(f.type, pa.BaseExtensionType):
            column = column.storage if not isinstance(f.type, pa.UuidType) else _uuid_text(column)
        if data_type == "numeric" and precision and precision <= 38:
            column = column.cast(pa.decimal128(precision, scale or 0))
        elif pa.types.is_time(column.type) or pa.types.is_interval(column.type):
            column = pa.array([None if v is None else _text(v) for v in column.to_pylist()], pa.string())
        elif pa.types.is_fixed_size_binary(column.type):
            column = column.cast(pa.binary())
        elif pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp("us", tz="UTC"))
        elif pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type):
            column = column.cast(pa.string() if pa.types.is_large_string(column.type) else pa.binary())
        arrays.append(column)
        fields.append(pa.field(f.name, column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _text(value: Any) -> str:
    """A time as Postgres writes it (10:11:12, with fractions only when it has them)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _uuid_text(column: pa.Array) -> pa.Array:
    import pyarrow as pa

    return pa.array([None if v is None else str(uuid.UUID(bytes=v)) for v in column.storage.to_pylist()], pa.string())


def _with_lineage(batch: pa.RecordBatch, source_file: str, at: datetime, batch_id: str) -> pa.RecordBatch:
    import pyarrow as pa

    n = batch.num_rows
    arrays = [
        *batch.columns,
        pa.array([source_file] * n, pa.string()),
        pa.array([at] * n, pa.timestamp("us", tz="UTC")),
        pa.array([batch_id] * n, pa.string()),
    ]
    names = [*batch.schema.names, "_source_file", "_ingested_at", "_batch_id"]
    return pa.RecordBatch.from_arrays(arrays, names=names)
