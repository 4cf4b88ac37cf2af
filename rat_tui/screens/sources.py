"""The sources screen: each `[sources.<name>]` of rat.toml with its last pull, records, cursor,
next pull and last error; `p` asks the workspace's writer to pull the selected one now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from rat_tui.engine import SourceStatus
from rat_tui.engine.workspace import Workspace

REFRESH_SECONDS = 2.0  # how often the screen reads the sources again (a pull may be under way)


class SourcesLoaded(Message):
    def __init__(self, sources: list[SourceStatus]) -> None:
        self.sources = sources
        super().__init__()


def _when(text: str | None) -> str:
    return (text or "")[:19].replace("T", " ")


def _row(s: SourceStatus) -> tuple[str, ...]:
    pull = s.last_pull
    status = "never pulled" if pull is None else pull.status
    if pull is not None and pull.status == "failed" and s.failures > 1:
        status = f"failed ×{s.failures}"
    when = f"schedule {s.every}" if " " in s.every else f"every {s.every}"
    return (
        s.name,
        s.type,
        when,
        _when(pull.started_at) if pull else "",
        status,
        f"{pull.records:,}" if pull else "",
        "" if s.cursor is None else str(s.cursor),
        _when(s.next_due) if s.next_due else "now",
    )


class SourcesScreen(Screen[None]):
    """The sources and their pulls; the selected one's URL, table and last error below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("p", "pull", "Pull now"),
    ]
    DEFAULT_CSS = """
    #sources-grid { height: 1fr; }
    #source-detail { height: auto; max-height: 12; padding: 0 1; }
    """

    def __init__(self, workspace: Workspace, pull: Callable[[str], Any]) -> None:
        super().__init__()
        self.workspace = workspace
        self.pull = pull  # asks the writer to pull one source now
        self.sources: list[SourceStatus] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sources-grid", cursor_type="row")
        yield Static("", id="source-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "sources"
        grid = self.query_one("#sources-grid", DataTable)
        grid.add_columns("source", "type", "when", "last pull", "status", "records", "cursor", "next pull")
        grid.focus()
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        from rat_tui.engine import Engine

        engine = Engine(self.workspace)
        try:
            sources = engine.sources()  # not the whole status: this is read every 2 s
        finally:
            engine.close()
        self.post_message(SourcesLoaded(sources))

    @on(SourcesLoaded)
    def _loaded(self, message: SourcesLoaded) -> None:
        self.sources = message.sources
        grid = self.query_one("#sources-grid", DataTable)
        row = grid.cursor_row
        grid.clear()
        for s in message.sources:
            grid.add_row(*_row(s), key=s.name)
        if not message.sources:
            self.query_one("#source-detail", Static).update(
                "No sources: add a [sources.<name>] to rat.toml (the README's Sources section shows how)."
            )
            return
        grid.move_cursor(row=min(row, len(message.sources) - 1))
        self._show(grid.cursor_row)

    @on(DataTable.RowHighlighted, "#sources-grid")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def _show(self, index: int) -> None:
        if not 0 <= index < len(self.sources):
            return
        s = self.sources[index]
        lines = [f"{s.name}: {s.type} {s.url} -> {s.table}"]
        pull = s.last_pull
        if pull is not None and pull.error:
            lines.append(f"last error ({_when(pull.started_at)}): {pull.error}")
        if pull is not None and pull.file:
            lines.append(f"last file: landing/{pull.file} ({pull.pages} page{'s' if pull.pages != 1 else ''})")
        lines.append("p pulls it now")
        self.query_one("#source-detail", Static).update("\n".join(lines))

    def action_pull(self) -> None:
        grid = self.query_one("#sources-grid", DataTable)
        if not 0 <= grid.cursor_row < len(self.sources):
            return
        name = self.sources[grid.cursor_row].name
        self.pull(name)
        self.notify(f"asked to pull {name}", timeout=3)
