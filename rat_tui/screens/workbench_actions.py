"""The workbench's actions: editor tabs, export, open and save a .sql file, copy and view cells,
runs, lineage, the table screen; and the focus moves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import TabbedContent, TabPane

from rat_tui.actions import COPY_ROWS
from rat_tui.screens.workbench_workers import WorkbenchWorkers
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor

if TYPE_CHECKING:
    from rat_tui.engine.results import ExportRun
    from rat_tui.widgets.completion import Completer


class WorkbenchActions(WorkbenchWorkers):
    """The workbench screen's actions (the screen subclasses this)."""

    last_sql: str | None  # the newest query that showed its rows: what ctrl+e exports
    exports: list[ExportRun]
    completer: Completer
    _buffers_dirty: bool

    @property
    def editor(self) -> SqlEditor:
        """The editor of the active tab."""
        pane = self.query_one("#tabs", TabbedContent).active_pane
        return pane.query_one(SqlEditor) if pane is not None else self.query_one(SqlEditor)

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

    def _tree_selection(self, min_dots: int, max_dots: int) -> str | None:
        node = self.query_one(LakeTree).cursor_node
        data = str(node.data) if node is not None and node.data else ""
        return data if data and min_dots <= data.count(".") <= max_dots else None

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

        table = self._tree_selection(1, 99)
        if table is None:
            self.notify("select a table in the lake tree first", severity="warning")
            return
        self.app.push_screen(TableScreen(self.workspace, ".".join(table.split(".")[:2])))

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

    def action_export(self) -> None:
        from datetime import datetime

        from rat_tui.screens.export import ExportScreen

        sql = self.last_sql
        if not sql:
            self.notify("run a query first: ctrl+j", severity="warning")
            return

        def chosen(path: str | None) -> None:
            if path:
                from rat_tui.engine.results import ExportRun
                from rat_tui.screens.export import FORMATS

                target = self.workspace.root / path  # an absolute path stays as it is
                run = ExportRun(sql, FORMATS[target.suffix.lower()], target)
                self.exports.append(run)
                self.notify(f"exporting to {target}… (escape cancels)", markup=False)
                self.export_result(run)

        self.app.push_screen(ExportScreen(f"exports/result-{datetime.now():%Y%m%d-%H%M%S}.csv"), chosen)

    def action_open_file(self) -> None:
        from rat_tui.screens.export import PathScreen

        def chosen(path: str | None) -> None:
            if path:
                self.open_in_tab(self.workspace.root / path)  # an absolute path stays as it is

        self.app.push_screen(PathScreen("Open a .sql file into a new tab:", "models/", (".sql",)), chosen)

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

        self.app.push_screen(PathScreen("Save this tab's SQL as (.sql):", "queries/query.sql", (".sql",)), chosen)

    def action_view_cell(self) -> None:
        from rat_tui.screens.cell import CellScreen

        try:
            value = self.query_one(ResultsView).cursor_value()
        except Exception:
            return
        self.app.push_screen(CellScreen("NULL" if value is None else str(value)))

    def action_copy_cell(self) -> None:
        """Copy the cell under the grid's cursor (OSC 52: works over SSH where the terminal allows it)."""
        try:
            value = self.query_one(ResultsView).cursor_value()
        except Exception:
            return
        text = "NULL" if value is None else str(value)
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {text[:40]}", markup=False)

    def action_copy_row(self) -> None:
        results = self.query_one(ResultsView)
        row = results.cursor_row()
        if row is None:
            return
        self.app.copy_to_clipboard(results.as_tsv(row, row + 1))
        self.notify(f"copied row {row + 1:,} (tab-separated, with a header)", markup=False)

    def action_copy_rows(self) -> None:
        results = self.query_one(ResultsView)
        if results.table is None or not results.rows:
            return
        n = min(results.rows, COPY_ROWS)
        self.app.copy_to_clipboard(results.as_tsv(0, n))
        more = f" of {results.rows:,}; ctrl+e exports them all" if n < results.rows else ""
        self.notify(f"copied {n:,} rows{more} (tab-separated, with a header)", markup=False)

    def action_lineage(self) -> None:
        from rat_tui.screens.lineage import LineageScreen

        self.app.push_screen(LineageScreen(self.workspace, self._tree_selection(1, 1)))

    def action_runs(self) -> None:
        from rat_tui.screens.runs import RunsScreen

        self.app.push_screen(RunsScreen(self.workspace))

    def action_toggle_panels(self) -> None:
        tree, panel = self.query_one(LakeTree), self.query_one(PipelinePanel)
        shown = not (tree.display or panel.display)
        tree.display = panel.display = shown
