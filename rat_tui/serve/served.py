"""What every request of one `rat serve` shares: the workspace, its token, the lake's live
session (locked down to reads of the lake) and the capacity counters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from rat_tui.api import Lake
from rat_tui.engine import Engine, RatError
from rat_tui.engine.live import LiveSession
from rat_tui.engine.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

    from rat_tui.engine.workspace import Settings


@dataclass
class Served:
    """What every request of one server shares."""

    ws: Workspace
    token: str | None
    lake: Lake = field(init=False)
    engine: Engine = field(init=False)
    live: LiveSession = field(init=False)
    queries: threading.Semaphore = field(init=False)
    sessions: threading.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.lake = Lake(self.ws, read_only=True)  # one connection, locked to reads of the lake
        self.engine = self.lake.engine
        self.live = self.lake.live
        self.queries = threading.Semaphore(self.settings.serve_max_queries)
        self.sessions = threading.Semaphore(self.settings.serve_max_sessions)

    @property
    def settings(self) -> Settings:
        return self.ws.settings

    def table_relation(
        self, name: str, version: int | None
    ) -> Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation]:
        """How to read a table (at `version`) on a cursor; RatError for a name or version it lacks."""
        from rat_tui.engine import lake as delta
        from rat_tui.engine.query import parquet_select, qualified
        from rat_tui.engine.versions import check_readable_version, view_named

        engine = self.engine
        try:
            resolved = engine.resolve_table(name)
        except RatError:
            view = view_named(engine.view_models(), name)
            if view is None or version is not None:
                raise
            return lambda cursor: cursor.sql(f"SELECT * FROM {qualified(view)}")
        if version is None:
            return lambda cursor: cursor.sql(f"SELECT * FROM {qualified(resolved)}")
        from deltalake import DeltaTable

        path = self.ws.table_path(resolved)
        check_readable_version(path, resolved, version)
        dt = DeltaTable(str(path), version=version)
        files, schema = list(dt.file_uris()), delta.arrow_schema(dt)
        if not files:
            return lambda cursor: cursor.from_arrow(schema.empty_table())
        return lambda cursor: cursor.sql(parquet_select(files, schema))

    def close(self) -> None:
        self.lake.close()


SERVED = web.AppKey("served", Served)
