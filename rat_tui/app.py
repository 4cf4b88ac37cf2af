"""The workbench: lake tree, SQL editor over the results grid, pipeline panel; the engine runs inside.

The worker rule (from Harlequin): database work runs in thread workers that never touch widgets;
they post messages, and the `on_...` handlers below own every widget change. The engine's own
watcher runs on a thread too and reports through the same messages.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Footer, Header, TabbedContent, TabPane

from rat_tui.widgets.completion import Completer, CompletionList
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel, RunProgress
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor

COPY_ROWS = 10_000  # rows copied at most: OSC 52 payloads past a few MB are dropped by terminals
WELCOME = "-- ctrl+j runs the statement under the cursor\nselect * from gold.daily_revenue order by order_date desc limit 20;\n"


BUILD_NICENESS = 10


def lower_priority() -> None:
    """Lower the calling thread's CPU priority (threads it starts inherit it); a no-op where the
    platform cannot."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BUILD_NICENESS)
    except (AttributeError, OSError):
        pass


def while_mounted(handler: Callable[..., None]) -> Callable[..., None]:
    """For handlers of what workers and timers post: one that arrives while the app closes finds
    its widgets gone, and does nothing instead of failing the shutdown."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            handler(*args, **kwargs)
        except NoMatches:
            # Textual marks the app as no longer running before it removes any widget, and removes
            # them in no promised order: a miss after that is the shutdown, before it a real bug.
            if args[0].is_running:
                raise

    return wrapper


class EngineEvent(Message):
    """An engine event, carried from whichever thread emitted it to the app."""

    def __init__(self, event: Any) -> None:
        self.event = event
        super().__init__()


class LakeLoaded(Message):
    def __init__(self, tables: list[dict[str, Any]], columns: dict[str, list[tuple[str, str]]]) -> None:
        self.tables = tables
        self.columns = columns
        super().__init__()


class QueryDone(Message):
    def __init__(self, qid: int, table: Any, seconds: float, total: int | None, painted: threading.Event) -> None:
        self.qid = qid
        self.table = table
        self.seconds = seconds
        self.total = total  # None: more rows than the grid holds, still being counted
        self.painted = painted  # set once the grid is on screen
        super().__init__()


class QueryCounted(Message):
    def __init__(self, qid: int, total: int | None, seconds: float) -> None:
        self.qid = qid
        self.total = total  # None: counting was cancelled
        self.seconds = seconds
        super().__init__()


class QueryFailed(Message):
    def __init__(self, qid: int | None, error: str) -> None:
        self.qid = qid  # None: not a query's (an export)
        self.error = error
        super().__init__()


class Exported(Message):
    def __init__(self, path: str, rows: int) -> None:
        self.path = path
        self.rows = rows
        super().__init__()


class CatalogLoaded(Message):
    def __init__(self, keywords: list[str], functions: list[str]) -> None:
        self.keywords = keywords
        self.functions = functions
        super().__init__()


class EngineMode(Message):
    def __init__(self, mode: str) -> None:
        self.mode = mode
        super().__init__()


class RatApp(App[None]):
    """The rat workbench over one workspace."""

    TITLE = "rat"
    AUTO_FOCUS = "SqlEditor"  # the editor has the focus from the first frame (no second footer)
    CSS = """
    #main { height: 1fr; }
    LakeTree { width: 25%; min-width: 20; max-width: 36; border-right: solid $primary-background; }
    #center { width: 1fr; }
    #tabs { height: 45%; }
    #tabs SqlEditor { height: 1fr; }
    PipelinePanel { border-left: solid $primary-background; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel query"),
        Binding("f1", "help", "Help"),
        Binding("f8", "history", "History"),
        Binding("ctrl+n", "new_tab", "New tab", priority=True),
        Binding("ctrl+w", "close_tab", "Close tab", priority=True),
        Binding("f5", "runs", "Runs"),
        Binding("f4", "lineage", "Lineage"),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("ctrl+y", "copy_cell", "Copy cell"),
        Binding("ctrl+o", "open_file", "Open .sql", show=False),
        Binding("ctrl+s", "save_file", "Save .sql", show=False),
        Binding("ctrl+l", "view_cell", "View cell", show=False),
        Binding("f2", "toggle_panels", "Panels"),
        Binding("ctrl+r", "run_pipeline", "Run all"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, workspace: Path, watch: bool = True) -> None:
        super().__init__()
        from rat_tui.engine.workspace import Workspace

        self.workspace = Workspace.find(workspace)
        self.watch_engine = watch
        self._sessions: dict[int, Any] = {}  # query id -> its session, while it runs or counts
        self._cancelled: set[int] = set()
        self._query_id = 0
        self._watcher: Any = None
        self._buffers_dirty = False
        self._lake_signature: tuple | None = None
        self._was_wide = True
        self.last_sql: str | None = None
        self.mode = "starting"
        self.completer = Completer()

    # ctrl+p: every workbench action by name, next to Textual's own (themes, keys, quit).
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Run query", "run_query_key", "Run the selection, or the statement under the cursor (ctrl+j)"),
        ("Cancel query", "cancel", "Interrupt the running query (escape)"),
        ("Run pipeline", "run_pipeline", "Ingest what waits in landing/, build what is stale (ctrl+r)"),
        ("Ingest now", "ingest_now", "Take every file in landing/ now, without waiting for it to settle"),
        ("Export result", "export", "Write the last query's whole result to CSV, Parquet or JSON (ctrl+e)"),
        ("Query history", "history", "Search past queries and reuse one (f8)"),
        ("Runs", "runs", "Run history, model builds, errors and failed checks (f5)"),
        ("Lineage", "lineage", "The model graph; the selected table's upstream and downstream (f4)"),
        ("Open table", "open_table", "Preview, schema, profile, versions and lineage of the tree's table"),
        ("New tab", "new_tab", "A new editor tab (ctrl+n)"),
        ("Close tab", "close_tab", "Close this editor tab (ctrl+w)"),
        ("Open .sql file", "open_file", "Open a .sql file into a new tab (ctrl+o)"),
        ("Save .sql file", "save_file", "Save this tab as a .sql file (ctrl+s)"),
        ("Copy cell", "copy_cell", "Copy the grid's cell to the clipboard (ctrl+y)"),
        ("Copy row", "copy_row", "Copy the grid's row, tab-separated with a header (r in the grid)"),
        ("Copy rows", "copy_rows", f"Copy the grid's rows (up to {COPY_ROWS:,}), tab-separated (R in the grid)"),
        ("View cell", "view_cell", "Show the grid's cell whole (ctrl+l)"),
        ("Sort results", "sort_results", "Sort the results by the grid's column (s)"),
        ("Toggle comment", "toggle_comment", "Comment or uncomment the editor's lines (ctrl+/)"),
        ("Complete", "complete", "Complete the name at the editor's cursor (ctrl+space)"),
        ("Toggle panels", "toggle_panels", "Hide or show the lake tree and the pipeline panel (f2)"),
        ("Focus editor", "focus_editor", "Move the focus to the SQL editor"),
        ("Focus lake tree", "focus_tree", "Move the focus to the lake tree"),
        ("Focus pipeline", "focus_pipeline", "Move the focus to the pipeline panel"),
        ("Focus results", "focus_results", "Move the focus to the results grid"),
        ("Help", "help", "The keys of the workbench (f1)"),
    ]

    def get_system_commands(self, screen: Any) -> Any:
        from textual.app import SystemCommand

        yield from super().get_system_commands(screen)
        if screen is not self.screen_stack[0]:
            return  # on other screens only Textual's own commands apply
        for title, action, help_text in self.PALETTE:
            yield SystemCommand(title, help_text, lambda action=action: self.run_action(action))

    def action_run_query_key(self) -> None:
        self.editor.action_run()

    def action_toggle_comment(self) -> None:
        self.editor.action_toggle_comment()

    def action_complete(self) -> None:
        self.editor.focus()
        self.editor.action_complete()

    def action_sort_results(self) -> None:
        self.query_one(ResultsView).sort_by_cursor_column()

    def action_open_table(self) -> None:
        from rat_tui.screens.table import TableScreen

        node = self.query_one(LakeTree).cursor_node
        table = str(node.data) if node is not None and node.data and str(node.data).count(".") >= 1 else None
        if table is None:
            self.notify("select a table in the lake tree first", severity="warning")
            return
        self.push_screen(TableScreen(self.workspace, ".".join(table.split(".")[:2])))

    def action_focus_editor(self) -> None:
        self.editor.focus()

    def action_focus_tree(self) -> None:
        self.query_one(LakeTree).focus()

    def action_focus_pipeline(self) -> None:
        panel = self.query_one(PipelinePanel)
        panel.display = True
        panel.focus()

    def action_focus_results(self) -> None:
        from textual_fastdatatable import DataTable

        grids = list(self.query_one(ResultsView).query(DataTable))
        if grids:
            grids[0].focus()

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="main"):
            yield LakeTree(id="lake")
            with Vertical(id="center"):
                with TabbedContent(id="tabs"):
                    for i, text in enumerate(self._load_buffers(), 1):
                        with TabPane(f"query {i}", id=f"tab-{i}"):
                            yield SqlEditor(text, completer=self.completer)
                yield ResultsView(id="results")
            yield PipelinePanel(id="pipeline")
        yield RunProgress()
        yield Footer()
        yield CompletionList()

    def on_resize(self, event: events.Resize) -> None:
        # Under 110 columns (80×24 over SSH) the editor needs the room: the pipeline panel hides
        # until f2 or a wider terminal brings it back. (event.size: the app's own size is not
        # updated yet when this runs.)
        panel = self.query_one(PipelinePanel)
        wide = event.size.width >= 110
        if wide != self._was_wide:
            panel.display = wide
            self._was_wide = wide

    def on_mount(self) -> None:
        self._load_theme()
        self._was_wide = self.size.width >= 110
        self.query_one(PipelinePanel).display = self._was_wide
        self.title = f"rat · {self.workspace.settings.name}"
        # tab/shift+tab move between the lake tree, the editor, the grid and the pipeline panel;
        # the row of tab names is not a stop (ctrl+n/ctrl+w and a click switch tabs).
        from textual.widgets import Tabs

        for tabs in self.query(Tabs):
            tabs.can_focus = False
        self.editor.focus()
        self.load_lake()
        if self.watch_engine:
            self.run_engine()
        self.set_interval(2.0, self.load_lake)
        self.set_interval(0.5, self._tick)
        self.set_interval(30, self._refresh_ages)
        self.load_catalog()
        self.set_interval(1.0, self._save_if_edited)

    # Editor tabs, kept in .rat/buffers.json across restarts.

    @property
    def buffers_file(self) -> Path:
        return self.workspace.state_dir / "buffers.json"

    def _load_buffers(self) -> list[str]:
        import json

        try:
            texts = json.loads(self.buffers_file.read_text(encoding="utf-8"))
            if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
                return texts
        except (OSError, ValueError):
            pass
        return [WELCOME]

    def save_buffers(self) -> None:
        import json

        texts = [e.text for e in self.query(SqlEditor)]
        if not texts:
            return  # the app is being torn down: what was saved last stays
        self._buffers_dirty = False
        self.buffers_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.buffers_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(texts), encoding="utf-8")
        tmp.replace(self.buffers_file)

    @property
    def editor(self) -> SqlEditor:
        """The editor of the active tab."""
        tabs = self.query_one("#tabs", TabbedContent)
        pane = tabs.active_pane
        return pane.query_one(SqlEditor) if pane is not None else self.query_one(SqlEditor)

    @on(SqlEditor.Changed)
    def _edited(self) -> None:
        self._buffers_dirty = True

    @while_mounted
    def _refresh_ages(self) -> None:
        self.query_one(LakeTree).refresh_ages()

    @while_mounted
    def _tick(self) -> None:
        self.query_one(PipelinePanel).tick()
        self.query_one(RunProgress).tick()

    def _save_if_edited(self) -> None:
        if self._buffers_dirty:
            self.save_buffers()

    def action_new_tab(self) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        n = max((int(str(p.id).split("-")[1]) for p in tabs.query(TabPane)), default=0) + 1
        editor = SqlEditor("", completer=self.completer)
        tabs.add_pane(TabPane(f"query {n}", editor, id=f"tab-{n}"))
        tabs.active = f"tab-{n}"
        self._buffers_dirty = True
        self.call_after_refresh(editor.focus)

    def action_close_tab(self) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tabs.tab_count > 1 and tabs.active:
            tabs.remove_pane(tabs.active)
            self._buffers_dirty = True
            self.call_after_refresh(lambda: self.editor.focus())

    def _engine(self) -> Any:
        from rat_tui.engine import Engine

        return Engine(self.workspace)

    # Workers: no widget is touched here, only messages posted.

    def run_engine(self) -> None:
        """Start the engine in watch mode on a thread of its own (a viewer when another process
        writes). Not a pooled worker thread: its lowered priority must not pass on to queries."""
        threading.Thread(target=self._engine_main, name="rat-engine", daemon=True).start()

    def _engine_main(self) -> None:
        from rat_tui.engine.errors import LockedError
        from rat_tui.engine.watch import Watcher

        # Builds run behind what the user types: this thread, and the DuckDB and polars threads it
        # starts (they inherit it), run at a lower priority than the UI's (Linux: per thread).
        lower_priority()
        engine = None
        try:
            engine = self._engine()
            engine.events.subscribe(lambda e: self.post_message(EngineEvent(e)))
            self._watcher = Watcher(engine, role="workbench")  # others' messages name the workbench
            self.post_message(EngineMode("watching"))
            self._watcher.run()
        except LockedError as exc:
            from rat_tui.engine.workspace import writer_name

            self.post_message(EngineMode(f"viewer: {writer_name(exc.role, exc.pid)} writes"))
        except Exception as exc:  # the workbench stays usable for queries; the header says why
            from rat_tui.engine.errors import first_line

            self.post_message(EngineMode(f"engine stopped: {first_line(exc)}"))
        finally:
            if engine is not None:
                engine.close()

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
        columns = {t["name"]: [tuple(c) for c in t["columns"]] for t in status["tables"]}
        self.post_message(LakeLoaded(status["tables"], columns))

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
    def run_query(self, sql: str, qid: int) -> None:
        """Stream the result: the grid gets the first `fetch_limit` rows as soon as DuckDB yields
        them; the rest are counted batch by batch and dropped, so memory stays bounded.

        Each query has its own session and id: a newer query interrupts this one, and what this
        one posts afterwards is ignored (thread workers cannot be stopped from outside)."""
        import pyarrow as pa

        from rat_tui.engine.errors import RatError
        from rat_tui.engine.query import query_error_text

        engine = self._engine()
        limit = self.workspace.settings.fetch_limit
        started = time.perf_counter()
        total: int | None = None
        shown: int | None = None
        error: str | None = None
        session = None
        try:
            session = engine.query_session()
            self._sessions[qid] = session
            if self._stale(qid):
                raise InterruptedError("cancelled")
            rel = session.sql(sql)
            if rel is None:
                error = "the statement returned no rows"
            else:
                reader = rel.to_arrow_reader(min(limit, 65_536))
                batches, rows, extra = [], 0, 0
                for batch in reader:
                    take = min(batch.num_rows, limit - rows)
                    batches.append(batch.slice(0, take) if take < batch.num_rows else batch)
                    rows += take
                    if rows >= limit:
                        extra = batch.num_rows - take
                        break
                table = pa.Table.from_batches(batches, schema=reader.schema)
                shown = rows
                if rows < limit:
                    total = rows
                painted = threading.Event()
                self.post_message(QueryDone(qid, table, time.perf_counter() - started, total, painted))
                if total is None:
                    # Past the fetch limit: count the rest without keeping it, once the grid is
                    # on screen (counting competes with its first paint for the CPU and the GIL).
                    painted.wait(2.0)
                    try:
                        for b in reader:
                            if self._stale(qid):
                                raise InterruptedError("cancelled")
                            extra += b.num_rows
                        total = rows + extra
                    except Exception:
                        total = None  # cancelled (escape, or a newer query): the rows shown stay
                    self.post_message(QueryCounted(qid, total, time.perf_counter() - started))
        except Exception as exc:
            if isinstance(exc, InterruptedError):
                error = "INTERRUPT: the query was cancelled"
            else:
                error = str(exc) if isinstance(exc, RatError) else query_error_text(exc)
        finally:
            self._sessions.pop(qid, None)
            self._cancelled.discard(qid)
            if session is not None:
                session.close()
            seconds = time.perf_counter() - started
            try:
                engine.state.record_query(sql, total if total is not None else shown, seconds, error)
            finally:
                engine.close()
        if error:
            self.post_message(QueryFailed(qid, error))

    @work(thread=True, group="requests", exit_on_error=False)
    def request_run(self, selectors: list[str] | None = None, full_refresh: bool = False) -> None:
        """Runs go to the writer (this app's watcher, or the process holding the lock)."""
        import os

        engine = self._engine()
        try:
            engine.state.add_request(list(selectors or []), full_refresh, os.getpid())
        finally:
            engine.close()
        if self._watcher is not None:
            self._watcher.notice("request", "run requested")

    # Handlers: all widget changes happen here.

    @work(thread=True, group="export", exit_on_error=False)
    def export_result(self, sql: str, path: str) -> None:
        """The whole result, streamed by DuckDB's COPY: the grid's fetch limit does not apply."""
        from rat_tui.engine.query import export
        from rat_tui.screens.export import FORMATS

        target = self.workspace.root / path  # an absolute path stays as it is
        engine = self._engine()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            session = engine.query_session()
            try:
                rows = export(session, sql, FORMATS[target.suffix.lower()], target)
            finally:
                session.close()
        except Exception as exc:
            self.post_message(QueryFailed(None, f"export failed: {exc}"))
            return
        finally:
            engine.close()
        self.post_message(Exported(str(target), rows))

    @on(SqlEditor.Run)
    def _run(self, message: SqlEditor.Run) -> None:
        self.last_sql = message.sql
        self.save_buffers()
        self.query_one(ResultsView).message(f"running… (escape cancels)  {message.sql[:60]}")
        self.action_cancel()  # a newer query supersedes one still running (or counting)
        self._query_id += 1
        self.run_query(message.sql, self._query_id)

    @on(QueryDone)
    @while_mounted
    def _done(self, message: QueryDone) -> None:
        if message.qid != self._query_id:
            message.painted.set()
            return
        self.query_one(ResultsView).show(message.table, message.seconds, message.total)
        self.call_after_refresh(message.painted.set)

    @on(QueryCounted)
    @while_mounted
    def _counted(self, message: QueryCounted) -> None:
        if message.qid == self._query_id:
            self.query_one(ResultsView).counted(message.total, message.seconds)

    @on(QueryFailed)
    @while_mounted
    def _failed(self, message: QueryFailed) -> None:
        if message.qid is not None and message.qid != self._query_id:
            return  # a superseded query's end
        self.query_one(ResultsView).message(f"error: {message.error}")
        self.notify(message.error, title="query failed", severity="error", markup=False)

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        self.notify(f"wrote {message.rows:,} rows to {message.path}", title="exported", markup=False)

    @on(CatalogLoaded)
    def _catalog(self, message: CatalogLoaded) -> None:
        self.completer.set_catalog(message.keywords, message.functions)

    @on(LakeLoaded)
    @while_mounted
    def _lake(self, message: LakeLoaded) -> None:
        self.completer.set_tables(message.columns)
        self.query_one(LakeTree).update_tables(message.tables, message.columns)
        models = {t["name"]: t for t in message.tables if t["layer"] != "bronze"}
        self.query_one(PipelinePanel).set_models(models)

    @on(PipelinePanel.RunModel)
    def _run_model(self, message: PipelinePanel.RunModel) -> None:
        how = "full refresh of" if message.full_refresh else "run of"
        self.notify(f"{how} {message.model} and downstream requested", markup=False)
        self.request_run([f"{message.model}+"], message.full_refresh)

    @on(PipelinePanel.RunAll)
    def _run_all(self, message: PipelinePanel.RunAll) -> None:
        if message.ingest_now:
            self.action_ingest_now()
        else:
            self.action_run_pipeline()

    @on(PipelinePanel.ShowError)
    def _show_error(self, message: PipelinePanel.ShowError) -> None:
        from rat_tui.screens.error import ErrorScreen

        table = self.query_one(LakeTree).tables.get(message.model, {})
        error = table.get("error")
        if not error:
            self.notify(f"{message.model} has no error", markup=False)
            return

        def chosen(where: tuple[str, int] | None) -> None:
            if where:
                self.open_in_tab(self.workspace.root / where[0], where[1])

        self.push_screen(ErrorScreen(self.workspace.root, message.model, error, table.get("model")), chosen)

    @on(LakeTree.Open)
    def _open_table(self, message: LakeTree.Open) -> None:
        from rat_tui.screens.table import TableScreen

        self.push_screen(TableScreen(self.workspace, message.table))

    @on(LakeTree.Insert)
    def _insert(self, message: LakeTree.Insert) -> None:
        editor = self.editor
        editor.insert_at_cursor(message.text)
        editor.focus()

    @on(EngineMode)
    def _mode(self, message: EngineMode) -> None:
        self.mode = message.mode
        self.sub_title = message.mode

    @on(EngineEvent)
    @while_mounted
    def _engine_event(self, message: EngineEvent) -> None:
        from rat_tui.engine import events as ev

        event = message.event
        panel = self.query_one(PipelinePanel)
        if isinstance(event, ev.RunStarted):
            self.sub_title = "building"
            self.query_one(RunProgress).run_started()
        elif isinstance(event, ev.Progress):
            self.query_one(RunProgress).progress(event.step, event.done, event.total, event.current)
        elif isinstance(event, ev.BuildPlanned):
            panel.model_queued(list(event.models))
        elif isinstance(event, ev.ModelStarted):
            panel.model_started(event.model)
        elif isinstance(event, ev.ModelFinished):
            panel.model_finished(event.model, event.status, event.seconds, event.rows)
            if event.status in ("failed", "check_failed"):
                what = "failed its checks: nothing published" if event.status == "check_failed" else "failed"
                self.notify(
                    f"{event.error or ''}\n(e in the pipeline panel shows it)",
                    title=f"{event.model} {what}",
                    severity="error",
                    timeout=8,
                    markup=False,
                )
        elif isinstance(event, ev.FileQuarantined):
            self.notify(
                f"landing/{event.path}: {event.reason}", title="file quarantined", severity="warning", markup=False
            )
        elif isinstance(event, (ev.SchemaChanged, ev.ModelWarning)):
            title = "schema change" if isinstance(event, ev.SchemaChanged) else f"{event.model}: settings not read"
            self.notify(event.message, title=title, severity="warning", timeout=10, markup=False)
        elif isinstance(event, ev.RunFinished):
            self.sub_title = self.mode
            self.query_one(RunProgress).run_finished()
            panel.run_finished()
            self.load_lake()

    # Actions.

    def action_export(self) -> None:
        from datetime import datetime

        from rat_tui.screens.export import ExportScreen

        sql = self.last_sql
        if not sql:
            self.notify("run a query first: ctrl+j", severity="warning")
            return

        def chosen(path: str | None) -> None:
            if path:
                self.export_result(sql, path)

        self.push_screen(ExportScreen(f"exports/result-{datetime.now():%Y%m%d-%H%M%S}.csv"), chosen)

    def action_open_file(self) -> None:
        from rat_tui.screens.export import PathScreen

        def chosen(path: str | None) -> None:
            if not path:
                return
            target = self.workspace.root / path  # an absolute path stays as it is
            self.open_in_tab(target)

        self.push_screen(PathScreen("Open a .sql file into a new tab:", "models/", (".sql",)), chosen)

    def open_in_tab(self, target: Path, line: int = 1) -> None:
        """A file's text in a new editor tab, the cursor on `line`."""
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"{target}: {exc}", title="cannot open", severity="error", markup=False)
            return
        self.action_new_tab()

        def fill() -> None:
            editor = self.editor
            editor.text = text
            row = max(0, min(line - 1, editor.document.line_count - 1))
            editor.cursor_location = (row, 0)
            editor.scroll_cursor_visible(center=True)

        self.call_after_refresh(fill)

    def action_save_file(self) -> None:
        from rat_tui.screens.export import PathScreen

        text = self.editor.text

        def chosen(path: str | None) -> None:
            if not path:
                return
            target = self.workspace.root / path  # an absolute path stays as it is
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            except OSError as exc:
                self.notify(f"{target}: {exc}", title="cannot save", severity="error", markup=False)
                return
            self.notify(f"saved {target}", markup=False)

        self.push_screen(PathScreen("Save this tab's SQL as (.sql):", "queries/query.sql", (".sql",)), chosen)

    def action_view_cell(self) -> None:
        from rat_tui.screens.cell import CellScreen

        try:
            value = self.query_one(ResultsView).cursor_value()
        except Exception:
            return
        self.push_screen(CellScreen("NULL" if value is None else str(value)))

    def action_copy_cell(self) -> None:
        """Copy the cell under the grid's cursor (OSC 52: works over SSH where the terminal allows it)."""
        try:
            value = self.query_one(ResultsView).cursor_value()
        except Exception:
            return
        text = "NULL" if value is None else str(value)
        self.copy_to_clipboard(text)
        self.notify(f"copied {text[:40]}", markup=False)

    def action_copy_row(self) -> None:
        results = self.query_one(ResultsView)
        row = results.cursor_row()
        if row is None:
            return
        self.copy_to_clipboard(results.as_tsv(row, row + 1))
        self.notify(f"copied row {row + 1:,} (tab-separated, with a header)", markup=False)

    def action_copy_rows(self) -> None:
        results = self.query_one(ResultsView)
        if results.table is None or not results.rows:
            return
        n = min(results.rows, COPY_ROWS)
        self.copy_to_clipboard(results.as_tsv(0, n))
        more = f" of {results.rows:,}; ctrl+e exports them all" if n < results.rows else ""
        self.notify(f"copied {n:,} rows{more} (tab-separated, with a header)", markup=False)

    def action_lineage(self) -> None:
        from rat_tui.screens.lineage import LineageScreen

        node = self.query_one(LakeTree).cursor_node
        selected = str(node.data) if node is not None and node.data and str(node.data).count(".") == 1 else None
        self.push_screen(LineageScreen(self.workspace, selected))

    def action_runs(self) -> None:
        from rat_tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(self.workspace))

    def action_help(self) -> None:
        from rat_tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    @work(thread=True, group="history", exit_on_error=False)
    def action_history(self) -> None:
        engine = self._engine()
        try:
            entries = engine.state.query_history()
        finally:
            engine.close()
        self.call_from_thread(self._show_history, entries)

    def _show_history(self, entries: list[dict[str, Any]]) -> None:
        from rat_tui.screens.history import HistoryScreen

        def chosen(sql: str | None) -> None:
            if sql:
                editor = self.editor
                editor.text = sql
                editor.focus()

        self.push_screen(HistoryScreen(entries), chosen)

    def _stale(self, qid: int) -> bool:
        """Whether a query was cancelled or superseded by a newer one (read from its worker)."""
        return qid in self._cancelled or qid != self._query_id

    def action_cancel(self) -> None:
        """Interrupt every query still running or counting (DuckDB's interrupt())."""
        for qid, session in list(self._sessions.items()):
            self._cancelled.add(qid)
            try:
                session.con.interrupt()
            except Exception:
                pass  # closed meanwhile

    def action_toggle_panels(self) -> None:
        tree, panel = self.query_one(LakeTree), self.query_one(PipelinePanel)
        if tree.display or panel.display:
            tree.display = panel.display = False
        else:
            tree.display = panel.display = True

    def action_run_pipeline(self) -> None:
        """Run the pipeline: ingest what waits in landing/, build what is stale."""
        self.notify("run requested")
        self.request_run()

    def action_ingest_now(self) -> None:
        """Ingest what is in landing/ now, without waiting for files to settle; then build what it changes."""
        self.notify("ingest requested: every file in landing/ is taken now")
        self.request_run()

    @property
    def ui_file(self) -> Path:
        return self.workspace.state_dir / "workbench.json"

    def _load_theme(self) -> None:
        """The theme picked last time (ctrl+p → theme), if Textual still has it."""
        import json

        try:
            theme = json.loads(self.ui_file.read_text(encoding="utf-8")).get("theme")
        except (OSError, ValueError, AttributeError):
            return
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme

    def _save_theme(self) -> None:
        import json

        try:
            self.ui_file.parent.mkdir(parents=True, exist_ok=True)
            self.ui_file.write_text(json.dumps({"theme": self.theme}), encoding="utf-8")
        except OSError:
            pass  # a read-only workspace keeps working; the theme is just not remembered

    def on_unmount(self) -> None:
        self._save_theme()
        self.save_buffers()
        if self._watcher is not None:
            self._watcher.stop("workbench closed")
