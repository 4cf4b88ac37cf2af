"""The shape of the code, enforced: the engine never imports a face, widgets see only the engine's
façade, no import cycle, no module over 400 lines. Read from the sources (AST), imports under
TYPE_CHECKING and inside functions included: a cycle that only type checking sees is still one."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rat_tui"
MAX_LINES = 400
FACES = ("rat_tui.app", "rat_tui.cli", "rat_tui.output", "rat_tui.screens", "rat_tui.widgets", "rat_tui.messages")
FACES += ("rat_tui.ui_state", "rat_tui.__main__", "rat_tui.narration")
UI_LIBRARIES = ("textual", "rich", "textual_fastdatatable")
FACADE = ("rat_tui.engine", "rat_tui.engine.events")  # what a widget may import of the engine


@cache
def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported(name: str) -> set[str]:
    """Every module `name` imports (rat_tui's own resolved to modules; others by their top name).
    `from package import submodule` is an import of the submodule, not of the package's body."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            subs = {f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in modules()}
            out |= subs
            if len(subs) < len(node.names):
                out.add(module)
    return out


def own(names: set[str]) -> set[str]:
    return {n for n in names if n in modules()}


def test_the_scan_sees_the_code() -> None:
    # A layer test that reads nothing passes everything: make sure it reads what it checks.
    assert {"rat_tui.app", "rat_tui.engine.engine", "rat_tui.widgets.pipeline"} <= set(modules())
    assert "rat_tui.engine.engine" in imported("rat_tui.engine")
    assert "textual" in {n.split(".")[0] for n in imported("rat_tui.app")}


def test_the_engine_imports_no_face() -> None:
    bad = []
    for name in modules():
        if name == "rat_tui.engine" or name.startswith("rat_tui.engine."):
            for dep in imported(name):
                if dep.split(".")[0] in UI_LIBRARIES or any(dep == f or dep.startswith(f + ".") for f in FACES):
                    bad.append(f"{name} imports {dep}")
                elif dep == "rat_tui":
                    bad.append(f"{name} imports the rat_tui package (the Python API face); import its module")
    assert not bad, "\n".join(bad)


def test_widgets_see_only_the_engine_facade() -> None:
    bad = []
    for name in modules():
        if name.startswith("rat_tui.widgets."):
            for dep in own(imported(name)):
                if dep.startswith("rat_tui.engine") and dep not in FACADE:
                    bad.append(f"{name} imports {dep} (widgets take what the engine gives through its façade)")
    assert not bad, "\n".join(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    graph = {name: own(imported(name)) - {name} for name in modules()}
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_app_is_thin() -> None:
    lines = len(modules()["rat_tui.app"].read_text(encoding="utf-8").splitlines())
    assert lines <= 250, f"rat_tui/app.py has {lines} lines; the workbench's work belongs to its screen"
