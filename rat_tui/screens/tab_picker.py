"""ctrl+t: the editor's tabs, numbered; a digit switches to that tab at once, enter to the
highlighted one, escape goes back. (alt+digit, the usual key, reaches Textual as other
characters in many terminals.)"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class TabPicker(ModalScreen[int | None]):
    """Dismissed with the chosen tab's index, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    TabPicker { align: center middle; }
    TabPicker > Vertical { width: 60; max-width: 90%; height: auto; max-height: 80%;
        border: round $primary; background: $surface; padding: 0 1; }
    TabPicker OptionList { height: auto; max-height: 20; border: none; }
    TabPicker Label { color: $text-muted; }
    """

    def __init__(self, titles: list[str], current: int) -> None:
        super().__init__()
        self.titles = titles
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Switch to tab: its number, or enter")
            options = []
            for i, title in enumerate(self.titles):
                number = str(i + 1) if i < 9 else " "
                options.append(Option(Text.assemble((f"{number}  ", "bold"), title), id=str(i)))
            yield OptionList(*options, id="tab-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = min(self.current, len(self.titles) - 1) if self.titles else None
        options.focus()

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character in "123456789":
            index = int(event.character) - 1
            event.stop()
            if index < len(self.titles):
                self.dismiss(index)
            else:
                self.notify(f"there is no tab {event.character}", severity="warning")

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
