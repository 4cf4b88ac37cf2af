"""A failed model's error next to its source, the line the engine says it points at marked; `o` opens the file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

from rat_tui.engine import BuildState, TableStatus


class ErrorScreen(ModalScreen[tuple[str, int] | None]):
    """escape closes; `o` opens the model file in a new editor tab at the error's line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("o", "open_file", "Open the file at the line"),
    ]
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen > Vertical { width: 90%; height: 80%; border: round $error; background: $surface; }
    ErrorScreen #error-scroll { height: auto; max-height: 40%; margin-bottom: 1; }
    ErrorScreen #error-scroll:focus { background: $boost; }
    ErrorScreen #error-text { padding: 0 1; }
    ErrorScreen TextArea { height: 1fr; }
    """

    def __init__(self, root: Path, table: TableStatus) -> None:
        super().__init__()
        where = table.error_at
        self.model = table.name
        self.error = table.error or ""
        # The engine says where the error points (file, line, check); else the model's own file.
        self.file = where.file if where and where.file else table.model
        self.line = where.line if where else None
        self.source = ""
        if self.file:
            try:
                self.source = (root / self.file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                self.file = None
        if table.state == BuildState.CHECK_FAILED:
            self.error += "\n\nf5 (runs) lists the failing rows of each check."

    def compose(self) -> ComposeResult:
        where = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "no model file")
        with Vertical():
            # A long error (a traceback, many failing checks) scrolls: tab to it, then arrows or pgdn.
            with VerticalScroll(id="error-scroll", can_focus=True):
                yield Static(f"{self.model} failed · {where}\n\n{self.error}", id="error-text", markup=False)
            if self.file:
                language = "python" if self.file.endswith(".py") else "sql"
                yield TextArea(self.source, language=language, read_only=True, show_line_numbers=True, id="source")
        yield Footer()

    def on_mount(self) -> None:
        if self.file and self.line:
            area = self.query_one("#source", TextArea)
            row = min(self.line, area.document.line_count) - 1
            area.selection = area.selection.__class__((row, 0), (row, len(area.document[row])))
            area.scroll_cursor_visible(center=True)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open_file(self) -> None:
        if self.file:
            self.dismiss((self.file, self.line or 1))
