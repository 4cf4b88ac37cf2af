"""ctrl+l: one cell's whole value (long text, JSON), scrollable."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class CellScreen(ModalScreen[None]):
    """The value as text, never as markup."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,ctrl+l", "dismiss_cell", "Close")]
    DEFAULT_CSS = """
    CellScreen { align: center middle; }
    CellScreen > VerticalScroll { width: 90%; max-height: 80%; border: round $primary; padding: 0 1; background: $surface; }
    """

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.value, id="cell-value", markup=False)

    def action_dismiss_cell(self) -> None:
        self.dismiss(None)
