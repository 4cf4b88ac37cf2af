"""F1: the keys of the workbench."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rat_tui.actions import help_lines


def help_table() -> Table:
    """The keys by group: a long line wraps under its own column, never under the keys."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=2)
    grid.add_column(style="bold", min_width=12, max_width=24)
    grid.add_column(ratio=1)
    grid.add_row("", Text("rat workbench — keys", style="bold"), "")
    for key, what in help_lines():
        if not what:
            grid.add_row("", "", "")
            grid.add_row("", Text(key, style="bold underline"), "")
        else:
            grid.add_row("", Text(key), Text(what))
    return grid


class HelpScreen(ModalScreen[None]):
    """The keys that matter, grouped by where they work."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 100%; max-height: 80%; border: round $primary;
        padding: 1 2; background: $surface; }
    """
    AUTO_FOCUS = "VerticalScroll"  # up/down/pageup/pagedown scroll the keys

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_table(), id="help-text")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
