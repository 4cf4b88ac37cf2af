"""Snapshots of the workbench's screens at the three sizes people use, 80×24, 120×40 and 200×60
(the help screen at the first two) (pytest-textual-snapshot).

The demo's data are fixed, so the screens are too, except for timings: build durations in the
pipeline panel and a query's elapsed milliseconds are masked before the picture is taken. After
an intended change of the UI, look at the new pictures and accept them with
`pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from conftest import wait_for

from rat_tui.app import RatApp
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor

SIZES = {"wide": (120, 40), "small": (80, 24)}
LAYOUTS = {**SIZES, "big": (200, 60)}


async def settle(pilot) -> None:
    """Wait for the lake to load, then mask what changes from run to run."""
    app = pilot.app
    await wait_for(pilot, lambda: list(app.query(LakeTree)))  # the workbench screen has composed
    await wait_for(
        pilot, lambda: "gold.daily_revenue" in app.query_one(LakeTree).tables and app.query_one(PipelinePanel).row_count
    )
    tree = app.query_one(LakeTree)
    built = min(datetime.fromisoformat(t.built_at).timestamp() for t in tree.tables.values() if t.built_at)
    tree.clock = lambda: built + 90  # every table reads "1m" old, whenever the test runs
    tree.update_tables(list(tree.tables.values()), tree.columns)  # rebuilt: widths from these labels
    for editor in app.query(SqlEditor):
        editor.cursor_blink = False  # a blinking cursor would make two pictures differ
    panel = app.query_one(PipelinePanel)
    for row in panel.rows:
        if not str(row.value).startswith("layer:"):
            panel.update_cell(row, "time", "#.##s")
    await pilot.pause(0.1)


async def mask_results(pilot) -> None:
    results = pilot.app.query_one(ResultsView)
    await wait_for(pilot, lambda: results.rows)
    results.message(re.sub(r"[\d,]+ ms", "# ms", str(results.title.render())))
    await pilot.pause(0.1)


def fresh_app(demo: Path) -> RatApp:
    (demo / ".rat" / "buffers.json").unlink(missing_ok=True)  # the welcome buffer, not an earlier test's
    return RatApp(demo, watch=False)


@pytest.mark.parametrize("size", LAYOUTS)
def test_workbench(snap_compare, demo: Path, size: str) -> None:
    assert snap_compare(fresh_app(demo), terminal_size=LAYOUTS[size], run_before=settle)


@pytest.mark.parametrize("size", LAYOUTS)
def test_workbench_with_results(snap_compare, demo: Path, size: str) -> None:
    async def run(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one(
            SqlEditor
        ).text = "select order_date, orders, revenue from gold.daily_revenue order by order_date limit 12"
        await pilot.press("ctrl+j")
        await mask_results(pilot)

    assert snap_compare(fresh_app(demo), terminal_size=LAYOUTS[size], run_before=run)


@pytest.mark.parametrize("size", LAYOUTS)
def test_a_query_error_shown_whole(snap_compare, demo: Path, size: str) -> None:
    async def run(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one(SqlEditor).text = "select order_date, revenu\nfrom gold.daily_revenue"
        await pilot.press("ctrl+j")
        results = pilot.app.query_one(ResultsView)
        await wait_for(pilot, lambda: bool(results.error_text))
        await pilot.pause(0.1)

    assert snap_compare(fresh_app(demo), terminal_size=LAYOUTS[size], run_before=run)


@pytest.mark.parametrize("size", LAYOUTS)
@pytest.mark.parametrize("tab", ["profile", "code", "lineage"])
def test_table_screen_tabs(snap_compare, demo: Path, tab: str, size: str) -> None:
    async def run(pilot) -> None:
        from rat_tui.screens.table import TableScreen

        await settle(pilot)
        pilot.app.push_screen(TableScreen(pilot.app.workspace, "silver.orders"))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.loaded)
        await pilot.press(str(TableScreen.TABS.index(tab) + 1))  # the tab's number, as a user switches
        await pilot.pause(0.3)

    assert snap_compare(fresh_app(demo), terminal_size=LAYOUTS[size], run_before=run)


@pytest.mark.parametrize("size", LAYOUTS)
def test_lineage_screen(snap_compare, demo: Path, size: str) -> None:
    async def run(pilot) -> None:
        await settle(pilot)
        await pilot.press("f12")
        await pilot.pause(0.5)

    assert snap_compare(fresh_app(demo), terminal_size=LAYOUTS[size], run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, demo: Path, size: str) -> None:
    async def run(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(fresh_app(demo), terminal_size=SIZES[size], run_before=run)
