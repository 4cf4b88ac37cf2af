"""The workbench screen: the lake tree over the pipeline panel, SQL editor tabs over the results grid.

The app (rat_tui.app) owns the engine thread, the theme and the palette; this screen owns the
layout and every widget change. Its workers (workbench_workers) read through the engine and post
messages (rat_tui.messages); the handlers here act on them. The engine's events arrive here too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from rat_tui.actions import bindings
from rat_tui.engine import QueryRecord, plural
from rat_tui.engine.results import ExportRun, QueryRun
from rat_tui.messages import CatalogLoaded, EngineEvent, Exported, LakeLoaded, QueryCounted, QueryDone, QueryFailed
from rat_tui.screens.workbench_actions import WorkbenchActions
from rat_tui.screens.workbench_tabs import tab_title
from rat_tui.ui_state import UiState
from rat_tui.widgets.completion import Completer, CompletionList
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel, RunProgress
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor

EMPTY_LAKE = "landing/ is empty: drop CSV, JSON or Parquet files there; they appear here within a second"


class WorkbenchScreen(WorkbenchActions):
    """The workbench over one workspace (the app's default screen)."""

    AUTO_FOCUS = "SqlEditor"  # the editor has the focus from the first frame (no second footer)
    # The app loads this (Textual reads a screen's own CSS when it is pushed, not for the default screen).
    LAYOUT_CSS: ClassVar[str] = """
    #main { height: 1fr; }
    #side { width: 36; border-right: solid $primary-background; }
    #side LakeTree { height: 1fr; }
    #side PipelinePanel { height: auto; max-height: 50%; border-top: solid $primary-background; }
    #empty-lake { height: auto; padding: 0 1; color: $text-muted; }
    #attention { height: auto; padding: 0 1; background: $error 30%; }
    #center { width: 1fr; }
    #tabs { height: 45%; }
    #tabs SqlEditor { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("workbench")  # rat_tui/actions.py

    def __init__(self, workspace: Any, writer_notice: Any = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.ui_state = UiState(workspace.state_dir)
        self._writer_notice = writer_notice  # tells the app's watcher a request waits
        self._queries: list[QueryRun] = []  # started here, newest last; pruned once finished
        self._buffers_dirty = False
        self._lake_signature: tuple | None = None
        side = self.ui_state.setting("side_width")
        self.side_cols = side if isinstance(side, int) else None
        self.last_sql: str | None = None
        self.exports: list[ExportRun] = []  # started here; escape and closing cancel those still running
        self.completer = Completer()

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="main"):
            with Vertical(id="side"):
                yield Static(EMPTY_LAKE, id="empty-lake", markup=False)
                yield LakeTree(id="lake")
                yield PipelinePanel(id="pipeline")
            with Vertical(id="center"):
                yield Static("", id="attention", markup=False)
                with TabbedContent(id="tabs"):
                    for i, buffer in enumerate(self.ui_state.buffers(), 1):
                        with TabPane(tab_title(i, buffer.path), id=f"tab-{i}"):
                            yield SqlEditor(buffer.text, completer=self.completer, path=buffer.path)
                yield ResultsView(id="results")
        yield RunProgress()
        yield Footer()
        yield CompletionList()

    def on_mount(self) -> None:
        self.apply_layout()
        self.query_one("#empty-lake").display = False
        self.query_one("#attention").display = False
        # f2/f3/f6/f7 move between the panes from anywhere; tab/shift+tab too where the pane does
        # not take them (the grid's cells do). The row of tab names is not a stop.
        from textual.widgets import Tabs

        for tabs in self.query(Tabs):
            tabs.can_focus = False
        for editor in self.query(SqlEditor):
            editor.remember_disk(self.workspace.root)
        self.editor.focus()
        self.editor.move_cursor(self.editor.document.end)  # typing adds to restored text, never merges into it
        self.load_lake()
        self.set_interval(2.0, self.load_lake)
        self.load_catalog()
        self.set_interval(1.0, self._save_if_edited)
        self.set_interval(2.0, self.check_files)

    def on_unmount(self) -> None:
        self.action_cancel()
        self.save_buffers()

    # Editor tabs, kept in .rat/buffers.json across restarts (workbench_tabs).

    @on(SqlEditor.Changed)
    def _edited(self) -> None:
        self._buffers_dirty = True

    def _save_if_edited(self) -> None:
        if self._buffers_dirty:
            self.save_buffers()

    # Queries: each a QueryRun of the engine's; a newer one supersedes those still running.

    @property
    def query_running(self) -> bool:
        """Whether a query started here still holds a session (running or counting)."""
        return any(q.running for q in self._queries)

    def _newest(self, run: QueryRun | None) -> bool:
        """Whether `run` is the newest query (what an older one posts is ignored)."""
        return run is not None and bool(self._queries) and run is self._queries[-1]

    @on(SqlEditor.Run)
    def _run(self, message: SqlEditor.Run) -> None:
        self.save_buffers()
        self.query_one(ResultsView).message(f"running… (escape cancels)  {message.sql[:60]}")
        for earlier in self._queries:  # a newer query supersedes one still running (or counting)
            earlier.cancel()
        run = QueryRun(message.sql, self.workspace.settings.fetch_limit)
        self._queries = [q for q in self._queries if not q.finished] + [run]
        self.run_query(run)

    def action_cancel(self) -> None:
        """Interrupt every query still running or counting, and every export (DuckDB's interrupt())."""
        for run in self._queries:
            run.cancel()
        for export in self.exports:
            export.cancel()
        self.exports = [e for e in self.exports if not e.finished]

    @on(QueryDone)
    def _done(self, message: QueryDone) -> None:
        if not self._newest(message.run):
            message.painted.set()
            return
        first = message.first
        self.last_sql = message.run.sql  # a query that failed or was cancelled is not exported
        self.query_one(ResultsView).show(first.table, first.seconds, first.total)
        self.call_after_refresh(message.painted.set)

    @on(QueryCounted)
    def _counted(self, message: QueryCounted) -> None:
        if self._newest(message.run):
            self.query_one(ResultsView).counted(message.total, message.seconds)

    @on(QueryFailed)
    def _failed(self, message: QueryFailed) -> None:
        if message.run is not None and not self._newest(message.run):
            return  # a superseded query's end
        from rat_tui.engine.results import CANCELLED

        if message.error == CANCELLED:
            self.query_one(ResultsView).failed(message.error, cancelled=True)
            return
        if message.run is None:  # an export's
            self.notify(message.error, title="export failed", severity="error", markup=False)
            return
        self.query_one(ResultsView).failed(message.error)

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        self.notify(f"wrote {plural(message.rows, 'row')} to {message.path}", title="exported", markup=False)

    @on(CatalogLoaded)
    def _catalog(self, message: CatalogLoaded) -> None:
        self.completer.set_catalog(message.keywords, message.functions)

    @on(LakeLoaded)
    def _lake(self, message: LakeLoaded) -> None:
        self.completer.set_tables(message.columns)
        self.query_one(LakeTree).update_tables(message.tables, message.columns)
        self.query_one("#empty-lake").display = not message.tables
        self.show_attention(message.tables, message.quarantined)
        models = {t.name: t for t in message.tables if t.layer != "bronze"}
        self.query_one(PipelinePanel).set_models(models)

    def show_attention(self, tables: list[Any], quarantined: int) -> None:
        """A line over the editor while a model fails or files wait in quarantine: it stays until
        they are fixed (a notification goes after seconds)."""
        from rat_tui.engine import FAILING

        failing = [t.name for t in tables if t.state in FAILING]
        parts = []
        if failing:
            names = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
            parts.append(
                f"✗ {len(failing)} model{'s' if len(failing) != 1 else ''} failing: {names} (e in the pipeline)"
            )
        if quarantined:
            parts.append(f"{quarantined} file{'s' if quarantined != 1 else ''} in quarantine")
        box = self.query_one("#attention", Static)
        box.update(" · ".join(parts) + (" · f5 runs has the details" if parts else ""))
        box.display = bool(parts)

    # The pipeline panel and the lake tree.

    @on(PipelinePanel.RunModel)
    def _run_model(self, message: PipelinePanel.RunModel) -> None:
        if not message.full_refresh and self.query_one(PipelinePanel).state_of(message.model) == "ok":
            table = self.query_one(LakeTree).tables.get(message.model)
            why = f" ({table.detail})" if table is not None and table.detail else ""
            self.notify(f"{message.model} is up to date{why}: f rebuilds it and its downstream in full", markup=False)
            return
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

        table = self.query_one(LakeTree).tables.get(message.model)
        if table is None or not table.error:
            self.notify(f"{message.model} has no error", markup=False)
            return

        def chosen(where: tuple[str, int] | None) -> None:
            if where:
                self.open_in_tab(self.workspace.root / where[0], where[1])

        self.app.push_screen(ErrorScreen(self.workspace.root, table), chosen)

    @on(LakeTree.Open)
    def _open_table(self, message: LakeTree.Open) -> None:
        from rat_tui.screens.table import TableScreen

        self.app.push_screen(TableScreen(self.workspace, message.table))

    @on(LakeTree.Insert)
    def _insert(self, message: LakeTree.Insert) -> None:
        editor = self.editor
        editor.insert_name(message.text)
        editor.focus()

    @on(LakeTree.OpenModel)
    def _open_model(self, message: LakeTree.OpenModel) -> None:
        table = self.query_one(LakeTree).tables.get(message.table)
        if table is None or not table.model:
            folder = message.table.split(".", 1)[1]
            self.notify(f"{message.table} has no model: it is ingested from landing/{folder}/", markup=False)
            return
        self.open_in_tab(self.workspace.root / table.model)

    def action_run_pipeline(self) -> None:
        """Run the pipeline: ingest what waits in landing/, build what is stale."""
        self.notify("run requested")
        self.request_run()

    def action_ingest_now(self) -> None:
        """Ingest what is in landing/ now, without waiting for files to settle; then build what it changes."""
        self.notify("ingest requested: every file in landing/ is taken now")
        self.request_run()

    @work(thread=True, group="history", exit_on_error=False)
    def action_history(self) -> None:
        engine = self._engine()
        try:
            entries = engine.query_history()
        finally:
            engine.close()
        self.app.call_from_thread(self._show_history, entries)

    def _show_history(self, entries: list[QueryRecord]) -> None:
        from rat_tui.screens.history import HistoryScreen

        def chosen(sql: str | None) -> None:
            if sql:  # a new tab: the text being edited is never replaced
                self.action_new_tab(sql)

        self.app.push_screen(HistoryScreen(entries), chosen)

    # The engine's events (from the app's engine thread).

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        from rat_tui.screens.workbench_events import HANDLERS

        handler = HANDLERS.get(type(message.event))
        if handler is not None:
            handler(self, message.event)
