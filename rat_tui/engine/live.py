"""A query session kept at the newest committed versions, for long-lived readers (the Python API,
`rat serve`): before each query, every table whose Delta log moved on is re-pointed, new tables
get a view, deleted ones lose theirs, and view models are (re)defined from their last good build.

A query already running keeps the files its plan bound, so it still reads whole versions. Readers
take no lock: the writer's commits are atomic, and a view names a version's files exactly.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from rat_tui.engine import lake
from rat_tui.engine.errors import QueryError
from rat_tui.engine.query import Session, qualified
from rat_tui.engine.workspace import Workspace

if TYPE_CHECKING:
    import duckdb


class LiveSession:
    """One DuckDB connection over the lake, moved forward on each `cursor()`; thread-safe."""

    def __init__(self, ws: Workspace, view_models: Callable[[], dict[str, str]], read_only: bool = False) -> None:
        self.ws = ws
        self._view_models = view_models
        self._read_only = read_only
        self._session: Session | None = None
        self._pinned: dict[str, int] = {}  # table -> the version its view reads
        self._views: dict[str, str] = {}  # view model -> the SQL it was defined with
        self._lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the session, each view first moved to its table's newest version (read from
        the log's file names: cheap when nothing changed); one query on its own thread, and
        interruptible alone."""
        with self._lock:
            return self._move_on().con.cursor()

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def _move_on(self) -> Session:
        now = {n: lake.latest_version(self.ws.table_path(n)) for n in lake.list_tables(self.ws)}
        if self._session is None:
            self._session = Session(self.ws)  # every table at its newest version already
            self._pinned = {n: v for n, v in now.items() if v is not None}
            self._views = {}
            if self._read_only:
                lock_down(self._session, self.ws)
        session = self._session
        for name, version in now.items():
            if version is not None and self._pinned.get(name) != version:
                session.refresh(name)
                self._pinned[name] = version
        for gone in set(self._pinned) - set(now):  # a table deleted since (its model removed)
            session.con.execute(f"DROP VIEW IF EXISTS {qualified(gone)}")
            self._pinned.pop(gone)
        views = self._view_models()
        for name, sql in views.items():
            if self._views.get(name) != sql:
                with contextlib.suppress(QueryError):  # a view over a table gone: its query says so
                    session.define_view(name, sql)
        self._views = views
        return session


def lock_down(session: Session, ws: Workspace) -> None:
    """No file outside the lake (and the spill folder) can be read or written from SQL, no
    extension installed or loaded, and no query can change these settings back."""
    from rat_tui.engine.query import quote_str

    allowed = ", ".join(quote_str(str(p.resolve()) + "/") for p in (ws.lake, ws.tmp))
    con = session.con
    con.execute(f"SET allowed_directories = [{allowed}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")
