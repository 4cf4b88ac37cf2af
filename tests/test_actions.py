"""The workbench's vocabulary (rat_tui/actions.py) against the code and the README: every bound
action exists where it is bound, the palette offers every workbench action, and the README's key
table lists every key in the group it works in."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from textual.screen import Screen

from rat_tui.actions import ACTIONS, GROUPS, bindings, help_lines, palette
from rat_tui.app import RatApp
from rat_tui.screens.workbench import WorkbenchScreen
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SCOPES = {"app": RatApp, "workbench": WorkbenchScreen, "editor": SqlEditor, "grid": ResultsView}
SCOPES |= {"tree": LakeTree, "pipeline": PipelinePanel}
README_GROUPS = {"editor": "Editor", "grid": "Grid", "lake tree": "Lake tree", "pipeline": "Pipeline panel"}
README_GROUPS["anywhere"] = "Everywhere"


def test_every_bound_action_exists_where_it_is_bound() -> None:
    for scope, cls in SCOPES.items():
        for binding in bindings(scope):
            namespace, _, name = binding.action.rpartition(".")
            owner = {"app": RatApp, "screen": WorkbenchScreen}.get(namespace, cls)
            assert callable(getattr(owner, f"action_{name}", None)), f"{scope}: {binding.key} -> {binding.action}"


def test_the_palette_offers_every_action_of_the_workbench() -> None:
    offered = {action for _, action, _ in palette()}
    own = {
        name.removeprefix("action_")
        for cls in WorkbenchScreen.__mro__
        if issubclass(cls, Screen) and cls.__module__.startswith("rat_tui.")
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if name.startswith("action_") and name in cls.__dict__
    }
    assert own and own <= offered | {"app.help"}, own - offered
    for action in offered:
        namespace, _, name = action.rpartition(".")
        assert callable(getattr(RatApp if namespace == "app" else WorkbenchScreen, f"action_{name}", None)), action


def test_the_readme_key_table_lists_every_key_where_it_works() -> None:
    table = README[README.index("| where | key | does |") :]
    table = table[: table.index("\n\n")]
    listed: dict[str, set[str]] = {}
    group = ""
    for row in table.splitlines()[2:]:
        where, keys = (cell.strip() for cell in row.strip("|").split("|")[:2])
        group = README_GROUPS.get(where, group) if where else group
        listed.setdefault(group, set()).update(re.findall(r"`([^`]+)`", keys))
    for action in ACTIONS:
        if action.keys and action.help:
            for key in action.key_text.split(" / "):
                assert key in listed.get(action.where, set()), f"README's key table lacks {key} ({action.where})"


def test_the_help_screen_shows_every_group_and_key() -> None:
    lines = help_lines()
    assert [k for k, what in lines if not what] == list(GROUPS)
    assert ("ctrl+j / ctrl+enter", "run the selection, or the statement under the cursor") in lines
    assert all(a.key_text in {k for k, _ in lines} for a in ACTIONS if a.keys and a.help)
