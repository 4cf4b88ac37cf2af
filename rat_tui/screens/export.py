"""ctrl+e: write the last query's whole result to a file; the extension picks the format."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}


class ExportScreen(ModalScreen[str | None]):
    """Asks for a path (relative to the workspace); .csv, .parquet or .json."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical { width: 80; height: auto; border: round $primary; padding: 1 2; background: $surface; }
    ExportScreen #export-error { color: $error; }
    """

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Export the whole result of the last query to (.csv, .parquet or .json):")
            yield Input(self.default, id="export-path")
            yield Label("", id="export-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        suffix = path[path.rfind(".") :].lower() if "." in path else ""
        if suffix not in FORMATS:
            self.query_one("#export-error", Label).update("the file name must end in .csv, .parquet or .json")
            return
        self.dismiss(path)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
