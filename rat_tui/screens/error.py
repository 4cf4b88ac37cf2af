"""A failed model's error next to its source, the line the error names marked; `o` opens the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

_WHERE = re.compile(r"^(?P<file>models/[^:]+\.(?:sql|py))(?::(?P<line>\d+))?:")


def error_location(model_file: str | None, error: str) -> tuple[str | None, int | None]:
    """(the model's file relative to the workspace, the error's line): from the engine's error text
    when it names them, else the model's file as `rat status` gives it."""
    m = _WHERE.match(error)
    if m:
        return m.group("file"), int(m.group("line")) if m.group("line") else None
    return model_file, None


class ErrorScreen(ModalScreen[tuple[str, int] | None]):
    """escape closes; `o` opens the model file in a new editor tab at the error's line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("o", "open_file", "Open the file at the line"),
    ]
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen > Vertical { width: 90%; height: 80%; border: round $error; background: $surface; }
    ErrorScreen #error-text { padding: 0 1; margin-bottom: 1; max-height: 40%; }
    ErrorScreen TextArea { height: 1fr; }
    """

    def __init__(self, root: Path, model: str, error: str, model_file: str | None) -> None:
        super().__init__()
        self.model = model
        self.error = error
        self.file, self.line = error_location(model_file, error)
        self.source = ""
        if self.file:
            try:
                self.source = (root / self.file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                self.file = None
        check = re.match(r"check (\w+)\(", error)
        if check and self.line is None:
            # A failed check points at where the header declares it (or where the SQL names it).
            self.line = next((n for n, text in enumerate(self.source.splitlines(), 1) if check.group(1) in text), None)
            self.error += "\n\nf5 (runs) lists the failing rows of each check."

    def compose(self) -> ComposeResult:
        where = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "no model file")
        with Vertical():
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
