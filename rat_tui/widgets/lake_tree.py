"""The lake tree: layers -> tables (rows, state) -> columns, refreshed live from the lake."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from rich.markup import escape
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from rat_tui.actions import bindings
from rat_tui.engine import LAYERS, BuildState, TableStatus


def age(built_at: str | None, now: float) -> str:
    """How long ago a table was built, in one short word: 40s, 5m, 3h, 2d."""
    if not built_at:
        return ""
    try:
        seconds = max(0.0, now - datetime.fromisoformat(built_at).timestamp())
    except ValueError:
        return ""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


STATE_ICONS = {
    BuildState.OK: "✓",
    BuildState.STALE: "↻",
    BuildState.FAILED: "✗",
    BuildState.CHECK_FAILED: "✗",
    BuildState.SKIPPED: "…",
    BuildState.ERROR: "✗",
    BuildState.NEVER_BUILT: "·",
}


class LakeTree(Tree[str]):
    """bronze/silver/gold and their tables; `i` inserts the selected name into the editor."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("tree")  # rat_tui/actions.py

    class Open(Message):
        """Open the table screen of this table."""

        def __init__(self, table: str) -> None:
            self.table = table
            super().__init__()

    class OpenModel(Message):
        """Open the model file of this table in an editor tab."""

        def __init__(self, table: str) -> None:
            self.table = table
            super().__init__()

    class Insert(Message):
        """Insert this table or column name at the editor's cursor."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("lake", **kwargs)
        self.show_root = False
        self.tables: dict[str, TableStatus] = {}
        self.columns: dict[str, list[tuple[str, str]]] = {}
        self.clock: Callable[[], float] = time.time  # what "now" is for the tables' ages

    def update_tables(self, tables: list[TableStatus], columns: dict[str, list[tuple[str, str]]]) -> None:
        """Rebuild the tree from `rat status`'s tables; what is open and the cursor's node stay as they were."""
        opened = {str(n.data) for n in self._walk() if n.is_expanded} if self.root.children else set(LAYERS)
        under_cursor = str(self.cursor_node.data) if self.cursor_node is not None else None
        self.clear()
        self.tables = {t.name: t for t in tables}
        self.columns = columns
        now = self.clock()
        for layer in LAYERS:
            node = self.root.add(layer, data=layer, expand=layer in opened)
            for t in tables:
                if t.layer != layer:
                    continue
                table_node = node.add(self._label(t, now), data=t.name, expand=t.name in opened)
                for col, kind in columns.get(t.name, []):
                    table_node.add_leaf(f"{escape(col)} [dim]{escape(kind)}[/dim]", data=f"{t.name}.{col}")
        if under_cursor is not None:
            self.select(under_cursor)

    def select(self, name: str) -> None:
        """Put the cursor on a layer, table or `table.column` (or, when it is not shown, its table
        or its layer), opening its table when it is a column; right after a rebuild too."""
        if name.count(".") == 2:
            table = next((n for n in self._walk() if n.data == name.rsplit(".", 1)[0]), None)
            if table is not None and table.parent is not None and table.parent.is_expanded:
                table.expand()
        shown = {str(n.data): n for n in self._walk(shown_only=True)}
        for candidate in (name, ".".join(name.split(".")[:2]), name.split(".")[0]):
            if candidate in shown:
                self._tree_lines  # noqa: B018 - lays new nodes out, so each has its line number
                self.move_cursor(shown[candidate])
                return

    def _walk(self, shown_only: bool = False) -> list[TreeNode[str]]:
        """Every node under the root, in order (only those on screen with `shown_only`)."""
        nodes: list[TreeNode[str]] = []
        todo = list(self.root.children)
        while todo:
            node = todo.pop(0)
            nodes.append(node)
            if node.is_expanded or not shown_only:
                todo[:0] = node.children
        return nodes

    @staticmethod
    def _label(t: TableStatus, now: float) -> str:
        rows = f"{t.rows:,}" if t.rows is not None else "-"
        icon = STATE_ICONS.get(t.state, "·")
        built = age(t.built_at, now)
        return f"{icon} {escape(t.name.split('.', 1)[1])}  {rows}" + (f" [dim]{built}[/dim]" if built else "")

    def on_mount(self) -> None:
        self.set_interval(30, self.refresh_ages)

    def refresh_ages(self) -> None:
        """Relabel the tables in place (ages move on; the cursor and open nodes stay)."""
        now = self.clock()
        for layer in self.root.children:
            for node in layer.children:
                if node.data in self.tables:
                    node.set_label(self._label(self.tables[str(node.data)], now))

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if data and str(data).count(".") == 1:
            self.post_message(self.Open(str(data)))

    def action_open_model(self) -> None:
        node = self.cursor_node
        if node is not None and node.data and str(node.data).count(".") >= 1:
            self.post_message(self.OpenModel(".".join(str(node.data).split(".")[:2])))

    def action_insert(self) -> None:
        node = self.cursor_node
        if node is None or not node.data or node.data in LAYERS:
            return
        name = str(node.data)
        text = name.rsplit(".", 1)[1] if name.count(".") == 2 else name
        self.post_message(self.Insert(text))
