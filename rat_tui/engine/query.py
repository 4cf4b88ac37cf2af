"""Query sessions: an in-memory DuckDB with schemas bronze/silver/gold and one view per table.

Each view reads exactly the Parquet files of its table's current Delta version, fixed when the view
is made, so a query sees whole versions only while writers go on committing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import QueryError
from rat_tui.engine.workspace import LAYERS, Workspace

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@dataclass(frozen=True)
class KeyFilter:
    """Rows whose `columns` match a row of the registered relation `relation` (a semi-join)."""

    columns: tuple[str, ...]
    relation: str

    def sql(self, alias: str) -> str:
        match = " AND ".join(f"_k.{quote_ident(c)} = {alias}.{quote_ident(c)}" for c in self.columns)
        return f"EXISTS (SELECT 1 FROM {quote_ident(self.relation)} AS _k WHERE {match})"


@dataclass(frozen=True)
class Source:
    """The files (and key filter) a table's view reads in a session."""

    files: list[str]
    schema: pa.Schema
    keys: KeyFilter | None = None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def qualified(name: str) -> str:
    layer, table = name.split(".", 1)
    return f"{quote_ident(layer)}.{quote_ident(table)}"


def first_row(result: Any) -> Any:
    """The first row of a DuckDB result, read to its end: DuckDB 2 refuses new work on a
    connection while a result is unfinished."""
    rows = result.fetchall()
    return rows[0] if rows else None


def query_error_text(exc: BaseException) -> str:
    """DuckDB's message in one line, with its suggestion and a pointer to the table list."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    hint = next((ln for ln in lines[1:] if ln.startswith("Did you mean")), None)
    if hint:
        text = f"{text} {hint}"
    if "Catalog Error" in text:
        text += "; `rat status` lists the tables"
    return text


_scratch = threading.local()


def scratch() -> duckdb.DuckDBPyConnection:
    """A small in-memory connection per thread for parsing SQL and sniffing files (no tables, no data).

    Opening a DuckDB connection costs tens of milliseconds; models and landing files are many.
    """
    con = getattr(_scratch, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(":memory:", config={"threads": 1})
        con.execute("SET enable_progress_bar = false")
        _scratch.con = con
    return con


def connect(ws: Workspace) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection under the workspace's memory limit, spilling into .rat/tmp."""
    import duckdb

    ws.tmp.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "memory_limit": ws.settings.memory_limit,
        "temp_directory": str(ws.tmp),
    }
    if ws.settings.threads:
        config["threads"] = ws.settings.threads
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")
    # Keeping the scan order of rows a query does not ORDER BY makes COPY buffer them, and a build
    # larger than memory then fails instead of spilling. A table's row order is not part of it.
    con.execute("SET preserve_insertion_order = false")
    return con


class Session:
    """One DuckDB connection with a view per lake table; `refresh` moves a view to the newest version."""

    def __init__(self, ws: Workspace, view_models: dict[str, str] | None = None) -> None:
        self.ws = ws
        self.con = connect(ws)
        for layer in LAYERS:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(layer)}")
        self.sources: dict[str, Source] = {}  # what each table's view reads right now
        for name in lake.list_tables(ws):
            self.refresh(name)
        if view_models:
            self._define_views(view_models)

    def _define_views(self, views: dict[str, str]) -> None:
        """Views may read each other: define them until no more succeed. Defined after the tables, a
        view replaces a table left by the model's earlier `materialized = "table"`."""
        pending = dict(views)
        while pending:
            progressed = False
            for name, sql in list(pending.items()):
                try:
                    self.define_view(name, sql)
                except QueryError:
                    continue
                pending.pop(name)
                progressed = True
            if not progressed:
                break

    def define_view(self, name: str, sql: str) -> None:
        try:
            self.con.execute(f"CREATE OR REPLACE VIEW {qualified(name)} AS {strip_sql(sql)}")
        except Exception as exc:  # duckdb.Error
            raise QueryError(query_error_text(exc)) from None

    def refresh(self, name: str) -> None:
        """(Re)point the view of one lake table at its current version."""
        from deltalake import DeltaTable

        dt = DeltaTable(str(self.ws.table_path(name)))
        self.point(name, list(dt.file_uris()), lake.arrow_schema(dt))

    def point(self, name: str, files: list[str], schema: pa.Schema, keys: KeyFilter | None = None) -> None:
        """Make the view `name` read exactly `files`, and only rows whose key is in `keys` if given.

        How a build shows a model only its input's new rows, an older version, or its own staged
        output while the checks audit it.
        """
        where = f" WHERE {keys.sql('_t')}" if keys else ""
        select = self.files_sql(files, schema, f"__rat_empty_{name.replace('.', '__')}")
        self.con.execute(f"CREATE OR REPLACE VIEW {qualified(name)} AS {select}{where}")
        self.sources[name] = Source(files, schema, keys)

    def files_sql(self, files: list[str], schema: pa.Schema, empty_name: str) -> str:
        """A SELECT of `schema`'s columns over Parquet files (aliased _t); an empty relation for none."""
        cols = ", ".join(quote_ident(c) for c in schema.names)
        if files:
            listing = ", ".join(quote_str(f) for f in files)
            return f"SELECT {cols} FROM read_parquet([{listing}], union_by_name = true) AS _t"
        self.con.register(empty_name, schema.empty_table())
        return f"SELECT {cols} FROM {quote_ident(empty_name)} AS _t"

    def sql(self, sql: str) -> duckdb.DuckDBPyRelation | None:
        try:
            return self.con.sql(sql)
        except Exception as exc:  # duckdb.Error and friends
            raise QueryError(query_error_text(exc)) from None

    def close(self) -> None:
        self.con.close()


def strip_sql(sql: str) -> str:
    """A model's SQL ready to be nested: no trailing semicolons; a newline keeps a trailing -- comment closed."""
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text + "\n"


# One DuckDB vector: the first rows are handed out as soon as DuckDB has made them, and a batch
# held while the rest is counted stays small.
BATCH_ROWS = 2048


class Result:
    """A query's result read as Arrow batches one at a time, so memory stays flat at any size.

    `head(n)` gives the first rows, `chunks()` the rows after them a batch at a time, and `sizes()`
    only how many rows each later batch holds, dropping the batch (how the rest is counted).
    """

    def __init__(self, columns: list[str], reader: pa.RecordBatchReader) -> None:
        self.columns = columns
        self._reader = reader
        self._left: pa.RecordBatch | None = None  # the part of a batch read past head(n)

    def _next(self) -> pa.RecordBatch | None:
        if self._left is not None:
            batch, self._left = self._left, None
            return batch
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            return None
        except Exception as exc:  # duckdb.Error raised while the query runs (a cast, a division)
            raise QueryError(query_error_text(exc)) from None

    def head(self, n: int) -> list[tuple[Any, ...]]:
        """The next `n` rows (fewer at the end of the result)."""
        rows: list[tuple[Any, ...]] = []
        while len(rows) < n and (batch := self._next()) is not None:
            take = n - len(rows)
            if batch.num_rows > take:
                self._left = batch.slice(take)
                batch = batch.slice(0, take)
            rows += python_rows(batch)
        return rows

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The remaining rows, one batch at a time."""
        while (batch := self._next()) is not None:
            if batch.num_rows:
                yield python_rows(batch)

    def sizes(self) -> Iterator[int]:
        """The row count of each remaining batch; the batches themselves are dropped."""
        while (batch := self._next()) is not None:
            yield batch.num_rows


def python_rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """A batch's rows as the Python values DuckDB's fetchall gives (a timedelta for an INTERVAL, a
    dict for a MAP, 9999-12-31 for an infinite date), which pyarrow's own conversion does not."""
    return scratch().from_arrow(batch).fetchall()


def stream(session: Session, sql: str, batch_rows: int = BATCH_ROWS) -> Result | None:
    """Run `sql` and stream its result; None for a statement that returns nothing (an empty one).

    Sets the session's Arrow export to lossless (DuckDB's own extension types), so that the rows
    read back are exactly fetchall's: without it a BIT, a HUGEINT or a TIMETZ changes on the way.
    """
    session.con.execute("SET arrow_lossless_conversion = true")
    rel = session.sql(sql)
    if rel is None:
        return None
    try:
        reader = rel.to_arrow_reader(batch_rows)
    except Exception as exc:  # duckdb.Error
        raise QueryError(query_error_text(exc)) from None
    return Result(list(rel.columns), reader)


def export(session: Session, sql: str, fmt: str, out: Path) -> int:
    """Write a query's result to `out` as csv, json (an array of objects), ndjson (an object a line)
    or parquet; return rows.

    A single query is streamed by DuckDB's COPY; anything else (several statements, SHOW, PRAGMA)
    runs first and its last result is written.
    """
    options = {
        "csv": "FORMAT csv, HEADER true",
        "json": "FORMAT json, ARRAY true",
        "ndjson": "FORMAT json, ARRAY false",
        "parquet": "FORMAT parquet, COMPRESSION zstd",
    }[fmt]
    target = quote_str(str(out))
    try:
        row = first_row(session.con.execute(f"COPY ({strip_sql(sql)}) TO {target} ({options})"))
        return int(row[0]) if row else 0
    except Exception:  # not a plain query: run it, then write its result
        pass
    rel = session.sql(sql)
    if rel is None:
        raise QueryError("the statement returns no rows to write; use a SELECT")
    try:
        session.con.register("__rat_result", rel.to_arrow_table())
        row = first_row(session.con.execute(f"COPY (FROM __rat_result) TO {target} ({options})"))
    except Exception as exc:  # duckdb.Error
        raise QueryError(query_error_text(exc)) from None
    finally:
        session.con.unregister("__rat_result")
    return int(row[0]) if row else 0
