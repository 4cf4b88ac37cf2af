"""What the results grid does beyond showing rows: find a value in them, change a column's width.
Pure functions over the Arrow table and the grid, so they are tested without a screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from textual_fastdatatable import DataTable

MIN_WIDTH = 3  # a column narrowed this far still shows that it is there


def matches(table: pa.Table, needle: str) -> list[tuple[int, int]]:
    """Every (row, column) whose value, as text, holds `needle` (case-insensitive), in reading
    order. Nested values (lists, structs) are matched on their printed form."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found: list[tuple[int, int]] = []
    for c, column in enumerate(table.columns):
        try:
            text = pc.cast(column, pa.string())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            text = pa.chunked_array(
                [pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())]
            )
        mask = pc.match_substring(text, needle, ignore_case=True)
        found += [(int(r), c) for r in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()]
    found.sort()
    return found


def next_match(table: pa.Table, needle: str, after: tuple[int, int]) -> tuple[int, int] | None:
    """The first cell holding `needle` after `after` in reading order, wrapping to the top."""
    cells = matches(table, needle) if needle else []
    return next((cell for cell in cells if cell > after), cells[0] if cells else None)


def column_width(grid: DataTable, column: int) -> int:
    """The column's shown width in cells, its padding left out."""
    return grid.ordered_columns[column].render_width - 2


def set_column_width(grid: DataTable, column: int, width: int) -> int:
    """Show the column `width` cells wide (from MIN_WIDTH up to its widest value); returns the
    width it got. Longer values are cut with an ellipsis, as at the grid's default limit."""
    col = grid.ordered_columns[column]
    width = max(MIN_WIDTH, min(width, col.content_width))
    col.auto_width, col.max_content_width = True, width
    # fastdatatable keeps rendered cells and the scrollable width: both follow the new width.
    grid._clear_caches()
    grid._update_dimensions([])
    grid.refresh()
    return width
