"""A path prompt: where to export a result (ctrl+e), open a .sql file (ctrl+o) or save one (ctrl+s)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}


class PathScreen(ModalScreen[str | None]):
    """Asks for a path (relative to the workspace) ending in one of `suffixes`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical { width: 80; height: auto; border: round $primary; padding: 1 2; background: $surface; }
    ExportScreen #export-error { color: $error; }
    """

    def __init__(self, prompt: str, default: str, suffixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prompt = prompt
        self.default = default
        self.suffixes = suffixes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt, markup=False)
            yield Input(self.default, id="export-path")
            yield Label("", id="export-error", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        suffix = path[path.rfind(".") :].lower() if "." in path else ""
        if suffix not in self.suffixes:
            self.query_one("#export-error", Label).update(f"the file name must end in {' or '.join(self.suffixes)}")
            return
        self.dismiss(path)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def ExportScreen(default: str) -> PathScreen:
    """ctrl+e: where to write the last query's whole result; the extension picks the format."""
    return PathScreen(
        "Export the whole result of the last query to (.csv, .parquet or .json):", default, tuple(FORMATS)
    )
