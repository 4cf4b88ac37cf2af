"""The lineage graph's drawing, for any graph of models: following the drawn lines from each table's
right edge reaches every table that reads it, and no stretch of line is shared by two reads that
have neither end in common. (Where one read joins another's line a T shows it, as in any drawing
with merges; the selected table's paths are coloured and listed under the graph.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from rat_tui.widgets.dag import LINES, draw_graph, plot

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
MASK = {ch: mask for mask, ch in LINES.items() if bin(mask).count("1") > 1 or ch not in "─│"}
MASK.update({"─": LEFT | RIGHT, "│": UP | DOWN, "▶": LEFT})
STEP = {UP: (0, -1), DOWN: (0, 1), RIGHT: (1, 0)}
OPPOSITE = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}


def _words(line: str) -> list[tuple[int, str]]:
    out, x = [], 0
    for word in line.split(" "):
        if word:
            out.append((x, word))
        x += len(word) + 1
    return out


def rendered(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    console = Console(width=400, record=True, color_system=None)
    console.print(draw_graph(names, edges, {n: ("", "") for n in names}, [1] * len(edges)))
    return console.export_text().splitlines()


def followed(screen: list[str], names: list[str]) -> set[tuple[str, str]]:
    """The (from, to) pairs the lines on `screen` connect, read as a user would: from the end of a
    table's name, rightwards, up and down at turns and joins, straight on through a ┼."""
    at: dict[tuple[int, int], str] = {}
    heads = [(x, word) for x, word in _words(screen[0])]  # a column's layer, when its tables share one
    for y, line in enumerate(screen[2:], start=2):
        for x, word in _words(line.replace("─", " ").replace("▶", " ")):
            layer = max(((hx, h) for hx, h in heads if hx <= x), default=(0, ""))[1]
            name = word if word in names else f"{layer}.{word}"
            if name in names:
                at[x, y] = name
    cell = {(x, y): ch for y, line in enumerate(screen) for x, ch in enumerate(line)}
    found = set()
    for (x, y), name in at.items():
        label = name if screen[y][x : x + len(name)] == name else name.split(".", 1)[1]
        start = (x + len(label), y)
        todo, seen = [(start, RIGHT)], set()
        while todo:
            (cx, cy), moving = todo.pop()
            if ((cx, cy), moving) in seen:
                continue
            seen.add(((cx, cy), moving))
            ch = cell.get((cx, cy), " ")
            if ch == "▶":
                target = next((n for (tx, ty), n in at.items() if ty == cy and tx == cx + 2), None)
                assert target is not None, f"an arrow at {cx},{cy} points at no table"
                found.add((name, target))
                continue
            mask = MASK.get(ch, 0)
            if not mask or not mask & OPPOSITE[moving]:
                continue  # the line does not come in from where we are
            exits = [moving] if ch == "┼" else [d for d in (UP, DOWN, RIGHT) if mask & d and d != OPPOSITE[moving]]
            for d in exits:
                dx, dy = STEP[d]
                todo.append(((cx + dx, cy + dy), d))
    return found


def shared_stretches(names: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """Pairs of edges drawn on one stretch of line that share neither their source nor their target
    (a reader could not tell where either goes)."""
    canvas = plot(names, edges, {n: ("", "") for n in names}, [1] * len(edges))
    bad = []
    for owners in canvas.owners.values():
        for i in owners:
            for j in owners:
                (a, b), (c, d) = edges[i], edges[j]
                if i < j and a != c and b != d:
                    bad.append((a, b, c, d))
    return bad


def test_the_demo_graph_reads_back_as_its_edges() -> None:
    names = [f"bronze.{t}" for t in ("customers", "order_items", "orders", "product_prices", "products")]
    names += [n.replace("bronze", "silver") for n in names]
    names += ["gold.customer_lifetime_value", "gold.daily_revenue", "gold.product_performance"]
    edges = [(n, n.replace("bronze", "silver")) for n in names[:5]]
    edges += [
        ("silver.customers", "gold.customer_lifetime_value"),
        ("silver.orders", "gold.customer_lifetime_value"),
        ("silver.order_items", "gold.daily_revenue"),
        ("silver.orders", "gold.daily_revenue"),
        *((f"silver.{t}", "gold.product_performance") for t in ("order_items", "orders", "product_prices", "products")),
    ]
    screen = rendered(names, edges)
    assert screen[0].split() == ["bronze", "silver", "gold"]  # a column per layer, named once
    assert "customers───────▶ customers" in screen[2]  # one-to-one reads are straight lines
    assert followed(screen, names) >= set(edges) and not shared_stretches(names, edges)


def test_a_read_across_layers_passes_through_the_middle_column() -> None:
    names = ["bronze.a", "bronze.b", "silver.c", "gold.d"]
    edges = [("bronze.a", "silver.c"), ("silver.c", "gold.d"), ("bronze.b", "gold.d")]
    screen = rendered(names, edges)
    assert followed(screen, names) == set(edges) and not shared_stretches(names, edges)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    n = draw(st.integers(1, 9))
    names = [f"{('bronze', 'silver', 'gold')[min(2, i * 3 // n)]}.t{i}" for i in range(n)]
    edges = sorted(
        {
            (names[a], names[b])
            for a, b in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))
            if a < b
        }
    )
    return names, edges


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_any_graph_reads_back_as_its_edges(graph: tuple[list[str], list[tuple[str, str]]]) -> None:
    names, edges = graph
    assert followed(rendered(names, edges), names) >= set(edges)  # every read can be followed to its arrow
    assert not shared_stretches(names, edges)  # and no stretch of line is shared by unrelated reads
