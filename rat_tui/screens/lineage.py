"""The lineage screen: the model graph by layer, with the selected table's upstream and downstream marked."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static

from rat_tui.engine.workspace import LAYERS, Workspace


class GraphLoaded(Message):
    def __init__(self, tables: list[str], edges: list[tuple[str, str]], states: dict[str, str]) -> None:
        self.tables = tables
        self.edges = edges
        self.states = states  # table -> its state as rat status says it
        super().__init__()


def related(edges: list[tuple[str, str]], start: str, forward: bool) -> set[str]:
    """Every table reachable from `start` along the edges (downstream) or against them (upstream)."""
    out: set[str] = set()
    frontier = [start]
    while frontier:
        cur = frontier.pop()
        for a, b in edges:
            src, dst = (a, b) if forward else (b, a)
            if src == cur and dst not in out:
                out.add(dst)
                frontier.append(dst)
    return out


def draw(
    tables: list[str], edges: list[tuple[str, str]], selected: str | None, states: dict[str, str] | None = None
) -> Table:
    """Layers side by side; ● the selected table, ▲ what it reads (transitively), ▼ what reads it;
    each table with its state's mark (✓ ok, ✗ failed or check failed, … skipped, ↻ stale)."""
    from rat_tui.engine import BuildState
    from rat_tui.widgets.lake_tree import STATE_ICONS

    states = states or {}
    up = related(edges, selected, forward=False) if selected else set()
    down = related(edges, selected, forward=True) if selected else set()
    grid = Table(expand=True, show_lines=False, box=None, padding=(0, 2))
    for layer in LAYERS:
        grid.add_column(layer, header_style="bold")
    columns = []
    for layer in LAYERS:
        cells = []
        for name in (t for t in tables if t.startswith(layer + ".")):
            icon = STATE_ICONS.get(BuildState(states[name]), "·") if name in states else "·"
            short = icon + " " + escape(name.split(".", 1)[1])
            if name == selected:
                cells.append(f"[reverse] ● {short} [/reverse]")
            elif name in up:
                cells.append(f"[green]▲ {short}[/green]")
            elif name in down:
                cells.append(f"[yellow]▼ {short}[/yellow]")
            else:
                cells.append(f"[dim]  {short}[/dim]")
        columns.append(cells)
    for i in range(max((len(c) for c in columns), default=0)):
        grid.add_row(*[c[i] if i < len(c) else "" for c in columns])
    return grid


class LineageScreen(Screen[None]):
    """Pick a table on the left; the graph shows what it reads and what reads it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    LineageScreen OptionList { width: 36; }
    LineageScreen #edges { height: auto; padding: 1 0; }
    """

    def __init__(self, workspace: Workspace, selected: str | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.selected = selected
        self.tables: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self.states: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(id="lineage-tables")
            with VerticalScroll():
                yield Static("", id="graph")
                yield Static("", id="edges")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "lineage"
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        from rat_tui.engine import Engine

        engine = Engine(self.workspace)
        try:
            tables, edges = engine.lineage_graph()
            states = {t.name: str(t.state) for t in engine.status().tables}
        finally:
            engine.close()
        self.post_message(GraphLoaded(tables, edges, states))

    @on(GraphLoaded)
    def _loaded(self, message: GraphLoaded) -> None:
        self.tables, self.edges, self.states = message.tables, message.edges, message.states
        options = self.query_one(OptionList)
        options.add_options(message.tables)
        if self.selected in self.tables:
            options.highlighted = self.tables.index(self.selected)
        elif self.tables:
            options.highlighted = 0
        self.render_graph()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.selected = self.tables[event.option_index] if self.tables else None
        self.render_graph()

    def render_graph(self) -> None:
        self.query_one("#graph", Static).update(draw(self.tables, self.edges, self.selected, self.states))
        near = [(a, b) for a, b in self.edges if self.selected in (a, b)]
        lines = [f"{escape(a)} → {escape(b)}" for a, b in near]
        self.query_one("#edges", Static).update("\n".join(lines) if lines else "[dim]no edges[/dim]")
