"""The results grid: an Arrow-backed table with a title saying what it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

if TYPE_CHECKING:
    import pyarrow as pa


class ResultsView(Vertical):
    """Shows a query's rows (Arrow, never Python row objects), their count and the time it took."""

    DEFAULT_CSS = """
    ResultsView { height: 1fr; }
    ResultsView > #results-title { height: 1; padding: 0 1; background: $boost; }
    ResultsView > DataTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows = 0

    def compose(self) -> ComposeResult:
        yield Static("no query yet: type SQL above and press ctrl+j", id="results-title", markup=False)

    @property
    def title(self) -> Static:
        return self.query_one("#results-title", Static)

    def show(self, table: pa.Table, seconds: float, limit: int) -> None:
        """Replace the grid with one over `table` (a fastdatatable is remounted, not refilled)."""
        from textual_fastdatatable import ArrowBackend, DataTable

        for old in self.query(DataTable):
            old.remove()
        # Values and column names are data, never markup: '[/x]' is shown as it is.
        grid = DataTable(backend=ArrowBackend(table), null_rep="NULL", max_column_content_width=40, render_markup=False)
        self.mount(grid)
        more = f" (the first {limit:,}; more were not fetched)" if table.num_rows >= limit else ""
        self.title.update(f"{table.num_rows:,} rows{more} · {seconds * 1000:,.0f} ms")
        self.rows = table.num_rows

    def message(self, text: str) -> None:
        self.title.update(text)
