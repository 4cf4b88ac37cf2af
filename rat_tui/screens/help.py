"""F1: the keys of the workbench."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rat_tui.actions import help_lines


class HelpScreen(ModalScreen[None]):
    """The keys that matter, grouped by where they work."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-height: 80%; border: round $primary; padding: 1 2; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        lines = []
        for key, what in help_lines():
            lines.append(f"\n[b]{key}[/b]" if not what else f"  [b]{key:<20}[/b] {what}")
        with VerticalScroll():
            yield Static("[b]rat workbench[/b] — keys" + "\n".join(lines), id="help-text")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
