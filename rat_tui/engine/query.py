"""Query sessions: an in-memory DuckDB with schemas bronze/silver/gold and one view per table.

Each view reads exactly the Parquet files of its table's current Delta version, fixed when the view
is made, so a query sees whole versions only while writers go on committing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
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
        no_progress_bar(con)
        _scratch.con = con
    return con


def no_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    """No progress bar on stdout. In a Jupyter kernel without ipywidgets DuckDB refuses to change
    the setting at all (and shows none there anyway): queries run the same, so that is no error."""
    try:
        con.execute("SET enable_progress_bar = false")
    except Exception as exc:  # duckdb.InvalidInputException
        if "ipywidgets" not in str(exc):
            raise


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
    no_progress_bar(con)
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
        if files:
            return parquet_select(files, schema) + " AS _t"
        self.con.register(empty_name, schema.empty_table())
        cols = ", ".join(quote_ident(c) for c in schema.names)
        return f"SELECT {cols} FROM {quote_ident(empty_name)} AS _t"

    def sql(self, sql: str) -> duckdb.DuckDBPyRelation | None:
        try:
            return self.con.sql(sql)
        except Exception as exc:  # duckdb.Error and friends
            raise QueryError(query_error_text(exc)) from None

    def close(self) -> None:
        self.con.close()


def parquet_select(files: list[str], schema: pa.Schema) -> str:
    """A SELECT of `schema`'s columns over exactly these Parquet files (a version's)."""
    cols = ", ".join(quote_ident(c) for c in schema.names)
    listing = ", ".join(quote_str(f) for f in files)
    return f"SELECT {cols} FROM read_parquet([{listing}], union_by_name = true)"


def strip_sql(sql: str) -> str:
    """A model's SQL ready to be nested: no trailing semicolons; a newline keeps a trailing -- comment closed."""
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text + "\n"
