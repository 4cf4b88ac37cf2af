"""F8: every query run in this workspace, newest first, searchable; Enter puts one in the editor."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from rat_tui.engine import QueryRecord, plural


class HistoryScreen(ModalScreen[str | None]):
    """Past queries with when, rows, time and error; type to filter."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    HistoryScreen { align: center middle; }
    HistoryScreen > Vertical { width: 90%; height: 80%; border: round $primary; background: $surface; }
    HistoryScreen OptionList { height: 1fr; }
    """

    def __init__(self, entries: list[QueryRecord]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(placeholder="search past queries", id="history-search")
            yield OptionList(id="history-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, needle: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for e in self.entries:
            if needle.lower() not in e.sql.lower():
                continue
            outcome = f"error: {e.error}" if e.error else plural(e.rows or 0, "row")
            sql = " ".join(e.sql.split())
            label = f"[dim]{e.at[:19].replace('T', ' ')}  {e.seconds * 1000:,.0f} ms  {escape(outcome)}[/dim]\n{escape(sql[:200])}"
            options.add_option(Option(label, id=str(e.id)))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed)
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _take_first(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        chosen = next((e for e in self.entries if str(e.id) == option_id), None)
        self.dismiss(chosen.sql if chosen else None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
