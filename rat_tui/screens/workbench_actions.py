"""The workbench's actions: export, open a .sql file, copy and view cells, runs, lineage, the table
screen (the tabs are workbench_tabs', the panes and focus workbench_layout's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rat_tui.actions import COPY_ROWS
from rat_tui.engine import plural
from rat_tui.screens.workbench_tabs import WorkbenchTabs
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.results import ResultsView

if TYPE_CHECKING:
    from rat_tui.engine.results import ExportRun
    from rat_tui.widgets.completion import Completer


class WorkbenchActions(WorkbenchTabs):
    """The workbench screen's actions (the screen subclasses this)."""

    last_sql: str | None  # the newest query that showed its rows: what ctrl+e exports
    exports: list[ExportRun]
    completer: Completer
    _buffers_dirty: bool

    def _tree_selection(self, min_dots: int, max_dots: int) -> str | None:
        node = self.query_one(LakeTree).cursor_node
        data = str(node.data) if node is not None and node.data else ""
        return data if data and min_dots <= data.count(".") <= max_dots else None

    def action_run_query_key(self) -> None:
        self.editor.action_run()

    def action_toggle_comment(self) -> None:
        self.editor.action_toggle_comment()

    def action_format_sql(self) -> None:
        self.editor.focus()
        self.editor.action_format_sql()

    def action_complete(self) -> None:
        self.editor.focus()
        self.editor.action_complete()

    def action_search_results(self) -> None:
        from rat_tui.screens.export import PromptScreen

        results = self.query_one(ResultsView)
        if not results.rows:
            self.notify("no rows to search: run a query first (ctrl+j)", severity="warning")
            return

        def chosen(needle: str | None) -> None:
            if needle and not results.search(needle):
                self.notify(f"{needle!r} is not in the rows shown", severity="warning", markup=False)
            results.focus_grid()

        self.app.push_screen(PromptScreen("Search the results (then n: the next one):", results.last_search), chosen)

    def action_sort_results(self) -> None:
        self.query_one(ResultsView).sort_by_cursor_column()

    def action_open_table(self) -> None:
        from rat_tui.screens.table import TableScreen

        table = self._tree_selection(1, 99)
        if table is None:
            self.notify("select a table in the lake tree first", severity="warning")
            return
        self.app.push_screen(TableScreen(self.workspace, ".".join(table.split(".")[:2])))

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

        from rat_tui.screens.export import sql_files

        files = sql_files(self.workspace.root)
        prompt = "Open a .sql file into a tab (models/ and queries/ are listed; down picks one):"
        self.app.push_screen(PathScreen(prompt, "models/", (".sql",), files), chosen)

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
        self.notify(f"copied {plural(n, 'row')}{more} (tab-separated, with a header)", markup=False)

    def action_lineage(self) -> None:
        from rat_tui.screens.lineage import LineageScreen

        self.app.push_screen(LineageScreen(self.workspace, self._tree_selection(1, 1)))

    def action_runs(self) -> None:
        from rat_tui.screens.runs import RunsScreen

        self.app.push_screen(RunsScreen(self.workspace))

    def action_sources(self) -> None:
        from rat_tui.screens.sources import SourcesScreen

        self.app.push_screen(SourcesScreen(self.workspace, lambda name: self.request_run(pull=[name])))
