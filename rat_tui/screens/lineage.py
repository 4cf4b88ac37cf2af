"""The lineage screen: the model graph by layer, with the selected table's upstream and downstream marked."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static

from rat_tui.engine import BuildState, reachable
from rat_tui.engine.workspace import Workspace
from rat_tui.widgets.dag import draw_graph
from rat_tui.widgets.lake_tree import STATE_ICONS


class GraphLoaded(Message):
    def __init__(self, tables: list[str], edges: list[tuple[str, str]], states: dict[str, str]) -> None:
        self.tables = tables
        self.edges = edges
        self.states = states  # table -> its state as rat status says it
        super().__init__()


LEGEND = (
    "● the selected table  [green]▲ what it is built from[/green]  [yellow]▼ what is built from it[/yellow]\n"
    "✓ ok  ✗ failed or check failed  … skipped  ↻ stale  · never built      ← → scroll the graph"
)


def draw(
    tables: list[str], edges: list[tuple[str, str]], selected: str | None, states: dict[str, str] | None = None
) -> Text:
    """The graph with arrows (widgets/dag.py): ● the selected table, ▲ what it is built from
    (transitively), ▼ what is built from it, their edges in colour; each table with its state's mark
    (✓ ok, ✗ failed or check failed, … skipped, ↻ stale)."""
    states = states or {}
    up = reachable(edges, selected, forward=False) if selected else set()
    down = reachable(edges, selected, forward=True) if selected else set()
    marks: dict[str, tuple[str, str]] = {}
    for name in tables:
        icon = STATE_ICONS.get(BuildState(states[name]), "·") if name in states else "·"
        if name == selected:
            marks[name] = (f"● {icon} ", "reverse")
        elif name in up:
            marks[name] = (f"▲ {icon} ", "green")
        elif name in down:
            marks[name] = (f"▼ {icon} ", "yellow")
        else:
            marks[name] = (f"  {icon} ", "dim" if selected else "")
    on_path = {selected} if selected else set()
    weights = [
        3 if a in down | on_path and b in down else 2 if b in up | on_path and a in up else 0 if selected else 1
        for a, b in edges
    ]
    return draw_graph(tables, edges, marks, weights)


class LineageScreen(Screen[None]):
    """Pick a table on the left; the graph shows what it reads and what reads it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("left", "scroll_graph(-8)", "Scroll", show=False),
        Binding("right", "scroll_graph(8)", "Scroll", show=False),
    ]
    DEFAULT_CSS = """
    LineageScreen OptionList { width: 32; }
    LineageScreen #graph-scroll { height: auto; max-height: 1fr; }
    LineageScreen #graph { width: auto; }
    LineageScreen #legend, LineageScreen #edges { height: auto; padding: 1 0 0 0; }
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
                with ScrollableContainer(id="graph-scroll", can_focus=False):
                    yield Static("", id="graph")
                yield Static(LEGEND, id="legend")
                yield Static("", id="edges")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "lineage"
        self.query_one(OptionList).focus()
        self.load()

    def action_scroll_graph(self, columns: int) -> None:
        """Scroll a graph wider than the screen sideways (the table list keeps up and down)."""
        scroll = self.query_one("#graph-scroll", ScrollableContainer)
        scroll.scroll_to(x=scroll.scroll_x + columns, animate=False)

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
