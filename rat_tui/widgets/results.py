"""The results grid: an Arrow-backed table with a title saying what it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Static

from rat_tui.actions import bindings

if TYPE_CHECKING:
    import pyarrow as pa
    from textual_fastdatatable import DataTable


class ResultsView(Vertical):
    """Shows a query's rows (Arrow, never Python row objects), their count and the time it took."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("grid")  # rat_tui/actions.py

    DEFAULT_CSS = """
    ResultsView { height: 1fr; }
    ResultsView > #results-title { height: 1; padding: 0 1; background: $boost; }
    ResultsView > DataTable { height: 1fr; }
    ResultsView > #results-error { height: auto; max-height: 1fr; padding: 0 1; color: $text-error; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.table: pa.Table | None = None
        self.seconds = 0.0
        self.total: int | None = None  # rows in the whole result; None while counted, or not counted
        self.count_stopped = False  # the count past the fetch limit was cancelled
        self.sorted_by: tuple[str, str] | None = None
        self.widths: dict[int, int] = {}  # columns the user resized, kept when the rows are sorted
        self.last_search = ""

    def compose(self) -> ComposeResult:
        yield Static("no query yet: type SQL above and press ctrl+j", id="results-title", markup=False)
        yield Static("", id="results-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#results-error").display = False

    @property
    def rows(self) -> int:
        """Rows the grid holds (the first `fetch_limit` of the result at most)."""
        return self.table.num_rows if self.table is not None else 0

    @property
    def title(self) -> Static:
        return self.query_one("#results-title", Static)

    def show(self, table: pa.Table, seconds: float, total: int | None, keep_sort: bool = False) -> None:
        """Replace the grid with one over `table` (a fastdatatable is remounted, not refilled)."""
        from textual_fastdatatable import ArrowBackend, DataTable

        self.table, self.seconds, self.total = table, seconds, total
        if not keep_sort:
            self.sorted_by = None
            self.count_stopped = False
            self.widths = {}

        for old in self.query(DataTable):
            old.remove()
        self.query_one("#results-error").display = False
        # Values and column names are data, never markup: '[/x]' is shown as it is.
        grid = DataTable(backend=ArrowBackend(table), null_rep="NULL", max_column_content_width=40, render_markup=False)
        self.mount(grid)
        if self.widths:
            self.call_after_refresh(self._apply_widths, grid)
        self._update_title()

    def _apply_widths(self, grid: DataTable) -> None:
        from rat_tui.widgets.grid_tools import set_column_width

        for column, width in self.widths.items():
            set_column_width(grid, column, width)

    def failed(self, error: str, cancelled: bool = False) -> None:
        """A query's error, whole and wrapped in place of the grid: the rows of an earlier query
        are cleared, never left under an error as if they were its result."""
        from textual_fastdatatable import DataTable

        for old in self.query(DataTable):
            old.remove()
        self.table, self.total, self.sorted_by = None, None, None
        self.title.update("cancelled: the query was stopped (escape)" if cancelled else "the query failed:")
        box = self.query_one("#results-error", Static)
        box.update("" if cancelled else error)
        box.display = not cancelled

    @property
    def error_text(self) -> str:
        """The failed query's error as shown ("" when none is)."""
        box = self.query_one("#results-error", Static)
        return str(box.render()) if box.display else ""

    def focus_grid(self) -> bool:
        """Give the grid the focus (False when there is none yet)."""
        from textual_fastdatatable import DataTable

        grids = list(self.query(DataTable))
        if grids:
            grids[0].focus()
        return bool(grids)

    def counted(self, total: int | None, seconds: float) -> None:
        """The whole result's row count, known once the rows past the grid's limit are counted
        (None: counting was cancelled; the rows shown stay)."""
        self.total = total
        self.count_stopped = total is None
        if total is not None:
            self.seconds = seconds
        self._update_title()

    def _update_title(self) -> None:
        shown = self.rows
        took = f"{self.seconds * 1000:,.0f} ms"
        if self.total is None and self.count_stopped:
            what = f"showing the first {shown:,} rows · {took} · more not counted (cancelled)"
        elif self.total is None:
            what = f"showing the first {shown:,} rows · {took} · counting the rest…"
        elif self.total > shown:
            what = f"showing {shown:,} of {self.total:,} rows · {took}"
        else:
            what = f"{shown:,} row{'s' if shown != 1 else ''} · {took}"
        order = f" · sorted by {self.sorted_by[0]} {self.sorted_by[1]}" if self.sorted_by else ""
        self.title.update(what + order)

    def message(self, text: str) -> None:
        self.title.update(text)

    def action_sort(self) -> None:
        self.sort_by_cursor_column()

    def sort_by_cursor_column(self) -> None:
        """Sort the rows shown by the cursor's column: ascending, then descending on a second press
        (the rows the grid holds; past the fetch limit, ORDER BY in the SQL sorts them all)."""
        import pyarrow.compute as pc  # noqa: F401 - sort_by needs the compute kernels
        from textual_fastdatatable import DataTable

        grids = list(self.query(DataTable))
        if not grids or self.table is None or not self.table.num_columns:
            return
        at = grids[0].cursor_coordinate
        focused = grids[0].has_focus
        column = self.table.column_names[at.column]
        order = "descending" if self.sorted_by == (column, "ascending") else "ascending"
        self.sorted_by = (column, order)
        self.show(self.table.sort_by([(column, order)]), self.seconds, self.total, keep_sort=True)
        grid = self.query(DataTable).last()

        def restore() -> None:  # the new grid keeps the focus and the cursor's column
            grid.move_cursor(row=0, column=at.column)
            if focused:
                grid.focus()

        self.call_after_refresh(restore)

    def _grid(self) -> DataTable | None:
        """The grid, or None before a result."""
        from textual_fastdatatable import DataTable

        grids = list(self.query(DataTable))
        return grids[-1] if grids and self.table is not None and self.table.num_columns else None

    def search(self, needle: str) -> bool:
        """Move the cursor to the next cell holding `needle` (case-insensitive, wrapping);
        False when no cell of the rows shown holds it."""
        from rat_tui.widgets.grid_tools import next_match

        grid = self._grid()
        self.last_search = needle
        if grid is None or self.table is None or not needle:
            return False
        at = grid.cursor_coordinate
        cell = next_match(self.table, needle, (at.row, at.column))
        if cell is None:
            return False
        grid.move_cursor(row=cell[0], column=cell[1])
        return True

    def action_search_next(self) -> None:
        if not self.last_search:
            self.notify("nothing to find yet: / searches the results", severity="warning")
        elif not self.search(self.last_search):
            self.notify(f"{self.last_search!r} is not in the rows shown", severity="warning", markup=False)

    def action_narrower(self) -> None:
        self._resize(-4)

    def action_wider(self) -> None:
        self._resize(4)

    def _resize(self, by: int) -> None:
        from rat_tui.widgets.grid_tools import column_width, set_column_width

        grid = self._grid()
        if grid is not None:
            column = grid.cursor_coordinate.column
            self.widths[column] = set_column_width(grid, column, column_width(grid, column) + by)

    def as_tsv(self, start: int, stop: int) -> str:
        """Rows [start, stop) of what the grid holds, tab-separated with a header (pastes into a
        spreadsheet); NULL as an empty field, tabs and newlines inside values as spaces."""
        if self.table is None:
            return ""
        part = self.table.slice(start, max(0, stop - start))

        def cell(value: object) -> str:
            return "" if value is None else str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")

        lines = ["\t".join(cell(c) for c in part.column_names)]
        columns = [part.column(i).to_pylist() for i in range(part.num_columns)]
        lines += ["\t".join(cell(col[r]) for col in columns) for r in range(part.num_rows)]
        return "\n".join(lines)

    def cursor_row(self) -> int | None:
        from textual_fastdatatable import DataTable

        grids = list(self.query(DataTable))
        return grids[0].cursor_coordinate.row if grids and self.table is not None and self.rows else None

    def cursor_value(self) -> object:
        from textual_fastdatatable import DataTable

        grids = list(self.query(DataTable))
        if not grids:
            return None
        return grids[0].get_cell_at(grids[0].cursor_coordinate)
