"""The model graph drawn in text: tables in columns by depth (what reads nothing on the left), an
arrow for every read (box-drawing lines ending in ▶ at the reading table), each table with its
state's mark. A line that turns or joins is a corner or a T; a ┼ is always two lines crossing.

The layout is the classic layered one (Sugiyama): a column per depth, an edge that skips columns
passes through them as a straight line, barycentre sweeps order each column to keep crossings
few, and each table sits level with what it reads where it can, so a one-to-one read is straight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
LINES = {
    LEFT | RIGHT: "─", LEFT: "─", RIGHT: "─", UP | DOWN: "│", UP: "│", DOWN: "│",
    DOWN | RIGHT: "╭", DOWN | LEFT: "╮", UP | RIGHT: "╰", UP | LEFT: "╯",
    UP | DOWN | RIGHT: "├", UP | DOWN | LEFT: "┤", LEFT | RIGHT | DOWN: "┬", LEFT | RIGHT | UP: "┴",
    UP | DOWN | LEFT | RIGHT: "┼",
}  # fmt: skip
STYLES = ("dim", "", "green", "yellow")  # an edge's weight: off the selection's paths ... on them


@dataclass
class Node:
    name: str  # a table, or "" for a point where a long edge passes through a column
    label: str = ""
    style: str = ""
    rank: int = 0
    y: int = 0


@dataclass
class Canvas:
    """A grid of line masks and text, each cell with the weight of what is drawn there."""

    width: int
    height: int
    masks: dict[tuple[int, int], int] = field(default_factory=dict)
    text: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    weight: dict[tuple[int, int], int] = field(default_factory=dict)
    owners: dict[tuple[int, int, str], set[int]] = field(default_factory=dict)  # the edges on a stretch

    def line(self, x0: int, y0: int, x1: int, y1: int, weight: int, edge: int) -> None:
        """A horizontal or vertical segment of `edge` from (x0, y0) to (x1, y1)."""
        if y0 == y1:
            for x in range(min(x0, x1), max(x0, x1)):
                self._mark(x, y0, RIGHT, weight)
                self._mark(x + 1, y0, LEFT, weight)
                self.owners.setdefault((x, y0, "-"), set()).add(edge)
        else:
            for y in range(min(y0, y1), max(y0, y1)):
                self._mark(x0, y, DOWN, weight)
                self._mark(x0, y + 1, UP, weight)
                self.owners.setdefault((x0, y, "|"), set()).add(edge)

    def _mark(self, x: int, y: int, direction: int, weight: int) -> None:
        self.masks[x, y] = self.masks.get((x, y), 0) | direction
        self.weight[x, y] = max(self.weight.get((x, y), 0), weight)

    def put(self, x: int, y: int, text: str, style: str) -> None:
        for i, ch in enumerate(text):
            self.text[x + i, y] = (ch, style)

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for y in range(self.height):
            for x in range(self.width):
                if (x, y) in self.text:
                    ch, style = self.text[x, y]
                elif (x, y) in self.masks:
                    ch, style = LINES[self.masks[x, y]], STYLES[self.weight[x, y]]
                else:
                    ch, style = " ", ""
                out.append(ch, style)
            if y < self.height - 1:
                out.append("\n")
        return out


def _ranks(names: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each table's depth: 0 for what reads nothing, else one more than the deepest it reads."""
    reads: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        reads.setdefault(b, []).append(a)
        reads.setdefault(a, [])
    rank: dict[str, int] = {}

    def depth(n: str, seen: frozenset[str]) -> int:
        if n not in rank:
            rank[n] = 1 + max((depth(a, seen | {n}) for a in reads[n] if a not in seen), default=-1)
        return rank[n]

    for n in reads:
        depth(n, frozenset())
    return rank


def layout(names: list[str], edges: list[tuple[str, str]]) -> tuple[list[list[Node]], list[tuple[Node, Node, int]]]:
    """Columns of nodes (top to bottom, with their rows set) and the one-column edges between them,
    each with the index of the edge in `edges` it is part of."""
    rank = _ranks(names, edges)
    nodes = {n: Node(n, rank=r) for n, r in rank.items()}
    columns: list[list[Node]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for n in sorted(nodes, key=lambda n: names.index(n) if n in names else len(names)):
        columns[nodes[n].rank].append(nodes[n])
    hops: list[tuple[Node, Node, int]] = []
    for i, (a, b) in enumerate(edges):
        prev = nodes[a]
        for r in range(prev.rank + 1, nodes[b].rank):
            through = Node("", rank=r)
            columns[r].append(through)
            hops.append((prev, through, i))
            prev = through
        hops.append((prev, nodes[b], i))
    _order(columns, hops)
    _place(columns, hops)
    return columns, hops


def _order(columns: list[list[Node]], hops: list[tuple[Node, Node, int]]) -> None:
    """Barycentre sweeps, down then up, a few times: each node moves towards its neighbours."""
    for sweep in range(7):  # ends on a downward sweep: the rows are placed from the left
        down = sweep % 2 == 0
        for r in range(1, len(columns)) if down else range(len(columns) - 2, -1, -1):
            fixed = {id(n): i for i, n in enumerate(columns[r - 1 if down else r + 1])}
            here = columns[r]

            def centre(i_n: tuple[int, Node], fixed: dict[int, int] = fixed, down: bool = down) -> float:
                i, n = i_n
                near = [fixed[id(a if down else b)] for a, b, _ in hops if (b if down else a) is n]
                return sum(near) / len(near) if near else float(i)

            here[:] = [n for _, n in sorted(enumerate(here), key=centre)]


def _place(columns: list[list[Node]], hops: list[tuple[Node, Node, int]]) -> None:
    """Rows: each node level with the middle of what it reads when there is room, else just below
    the node above it."""
    for r, column in enumerate(columns):
        next_free = 0
        for n in column:
            reads = [a.y for a, b, _ in hops if b is n] if r else []
            wanted = round(sum(reads) / len(reads)) if reads else 0
            n.y = max(next_free, wanted)
            next_free = n.y + 1


def _tracks(channel: list[tuple[Node, Node, int]]) -> tuple[list[tuple[Node, Node, int]], Node | None]:
    """The order of a channel's vertical tracks, left to right, one per edge that changes row.
    On a row both left by one edge and entered by another, the leaving edge's track comes first,
    so the two never share a stretch of line (the entering one joins after the other has turned).
    When no order can do that (two edges crossing as an X), the node an edge enters is given, to
    be moved down a row."""
    todo = sorted((h for h in channel if h[0].y != h[1].y), key=lambda h: (h[1].y, h[0].y))
    order: list[tuple[Node, Node, int]] = []
    while todo:
        ready = [h for h in todo if not any(o[0].y == h[1].y and o[0] is not h[0] for o in todo if o is not h)]
        if not ready:
            return order, todo[0][1]
        order.append(ready[0])
        todo.remove(ready[0])
    return order, None


def plot(
    names: list[str], edges: list[tuple[str, str]], marks: dict[str, tuple[str, str]], weights: list[int]
) -> Canvas:
    """The graph of `edges` over `names` (`layer.table`); `marks[name]` is the (text, style) put
    before a table's name, and `weights[i]` how strongly edge i is drawn (0 dim ... 3, see STYLES).
    A column whose tables share a layer is headed by it and names them without it."""
    columns, hops = layout(names, edges)
    headers = []
    for column in columns:
        layers = {n.name.split(".", 1)[0] for n in column if n.name}
        headers.append(layers.pop() if len(layers) == 1 else "")
        for n in column:
            n.y += 2
            shown = n.name.split(".", 1)[-1] if headers[-1] else n.name
            prefix, n.style = marks.get(n.name, ("", ""))
            n.label = prefix + shown if n.name else ""
    widths = [max([len(h), *(len(n.label) for n in c)]) or 1 for h, c in zip(headers, columns, strict=True)]
    channels: list[list[tuple[Node, Node, int]]] = [[] for _ in columns]
    for hop in hops:
        channels[hop[0].rank].append(hop)
    tracks = _untangle(columns, channels)
    xs, x = [], 0
    for r, w in enumerate(widths):
        xs.append(x)
        x += w + (2 * len(tracks[r]) + 4 if r < len(columns) - 1 else 0)  # lines, tracks, ▶ and a space
    height = max((n.y + 1 for c in columns for n in c), default=0)
    canvas = Canvas(x, height)
    for r, column in enumerate(columns):
        canvas.put(xs[r], 0, headers[r], "bold")
        for n in column:
            if n.name:
                canvas.put(xs[r], n.y, n.label, n.style)
            else:  # a long edge passing through this column
                i = next(i for a, b, i in hops if b is n)
                canvas.line(xs[r] - 2, n.y, xs[r] + widths[r], n.y, weights[i], i)
        if r == len(columns) - 1:
            continue
        start, arrow = xs[r] + widths[r], xs[r + 1] - 2
        for a, b, i in channels[r]:
            w = weights[i]
            from_x = xs[r] + len(a.label) if a.name else start
            if a.y == b.y:
                canvas.line(from_x, a.y, arrow, b.y, w, i)
            else:
                track = start + 2 + 2 * tracks[r].index((a, b, i))
                canvas.line(from_x, a.y, track, a.y, w, i)
                canvas.line(track, a.y, track, b.y, w, i)
                canvas.line(track, b.y, arrow, b.y, w, i)
            if b.name:
                style = STYLES[max(weights[j] for p, q, j in channels[r] if q is b)]
                canvas.put(arrow, b.y, "▶", style)
    return canvas


def _untangle(
    columns: list[list[Node]], channels: list[list[tuple[Node, Node, int]]]
) -> list[list[tuple[Node, Node, int]]]:
    """Each channel's track order; a node no order can enter cleanly moves down a row, with the
    nodes under it, until every channel has one."""
    for _ in range(4 * sum(len(c) for c in columns) + 8):
        results = [_tracks(channel) for channel in channels]
        stuck = next((node for _, node in results if node is not None), None)
        if stuck is None:
            return [order for order, _ in results]
        for n in columns[stuck.rank]:
            if n.y >= stuck.y and n is not stuck:
                n.y += 1
        stuck.y += 1
    return [order for order, _ in results]  # pragma: no cover - a bound, never reached in the tests


def draw_graph(
    names: list[str], edges: list[tuple[str, str]], marks: dict[str, tuple[str, str]], weights: list[int]
) -> Text:
    """The graph as text to show: see `plot`."""
    return plot(names, edges, marks, weights).render()
