"""The workbench's thread workers: engine reads that must never block the UI.

A worker touches no widget: it posts a message (rat_tui.messages) and the screen's handlers do the
rest. Each opens its own engine (a state connection and nothing else) and closes it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from rat_tui.messages import CatalogLoaded, Exported, LakeLoaded, QueryCounted, QueryDone, QueryFailed

if TYPE_CHECKING:
    from collections.abc import Callable

    from rat_tui.engine import Engine
    from rat_tui.engine.results import ExportRun, FirstRows, QueryRun
    from rat_tui.engine.workspace import Workspace


class WorkbenchWorkers(Screen[None]):
    """The workbench screen's workers (the screen subclasses this)."""

    workspace: Workspace
    _lake_signature: tuple | None
    _writer_notice: Callable[[], None] | None  # tells the app's watcher a request waits

    def notice_writer(self) -> None:
        if self._writer_notice is not None:
            self._writer_notice()

    def _engine(self) -> Engine:
        from rat_tui.engine import Engine

        return Engine(self.workspace)

    @work(thread=True, exclusive=True, group="lake", exit_on_error=False)
    def load_lake(self) -> None:
        engine = self._engine()
        try:
            # Polled every 2 s: nothing is reloaded (no log replays, no model parsing) until the
            # lake, the models or the runs have changed.
            signature = engine.signature()
            if signature == self._lake_signature:
                return
            status = engine.status()
        finally:
            engine.close()
        self._lake_signature = signature
        columns = {t.name: [(c[0], c[1]) for c in t.sql_columns or []] for t in status.tables}
        # The widgets take the tables as `rat status --json` gives them (plain values, any thread).
        self.post_message(LakeLoaded(status.tables, columns, len(status.quarantine)))

    @work(thread=True, group="catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        """DuckDB's keywords and functions, for completion (after start-up: it costs no paint time)."""
        import duckdb
        import textual_fastdatatable  # noqa: F401 - the grid's module (and polars) loaded before the first query

        con = duckdb.connect()
        try:
            keywords = [r[0] for r in con.execute("SELECT keyword_name FROM duckdb_keywords()").fetchall()]
            functions = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type <> 'pragma'"
                ).fetchall()
            ]
        finally:
            con.close()
        self.post_message(CatalogLoaded(keywords, functions))

    @work(thread=True, group="query", exit_on_error=False)
    def run_query(self, run: QueryRun) -> None:
        """The engine's QueryRun on a session of this worker's own; the grid gets the first rows,
        and the rest is counted once they are painted (counting competes with the first paint for
        the CPU and the GIL). Recorded in the query history either way."""
        engine = self._engine()

        def first(rows: FirstRows) -> None:
            painted = threading.Event()
            self.post_message(QueryDone(run, rows, painted))
            if rows.total is None:
                painted.wait(2.0)

        try:
            outcome = run.run(engine.query_session, first)
            if outcome.error:
                self.post_message(QueryFailed(run, outcome.error))
            elif outcome.total is None or outcome.total >= run.limit:
                self.post_message(QueryCounted(run, outcome.total, outcome.seconds))
            engine.record_query(run.sql, outcome.rows, outcome.seconds, outcome.error)
        finally:
            engine.close()

    @work(thread=True, group="requests", exit_on_error=False)
    def request_run(
        self, selectors: list[str] | None = None, full_refresh: bool = False, pull: list[str] | None = None
    ) -> None:
        """Runs (and pulls of `pull`) go to the writer (this app's watcher, or the process holding the lock)."""
        engine = self._engine()
        try:
            engine.request_run(list(selectors or []), full_refresh, pull)
        finally:
            engine.close()
        self.notice_writer()

    @work(thread=True, group="export", exit_on_error=False)
    def export_result(self, run: ExportRun) -> None:
        """The whole result, streamed by DuckDB's COPY: the grid's fetch limit does not apply."""
        engine = self._engine()
        try:
            run.target.parent.mkdir(parents=True, exist_ok=True)
            rows = run.run(engine.query_session)
        except Exception as exc:
            self.post_message(QueryFailed(None, f"export failed: {exc}"))
            return
        finally:
            engine.close()
        self.post_message(Exported(str(run.target), rows))
