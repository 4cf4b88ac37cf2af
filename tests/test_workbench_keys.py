"""The workbench with the keyboard alone, as a new user over SSH meets it: typing first, a key per
pane from every pane, full screen and resizable side panels, tabs by key, tabs that are files."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from conftest import RAT, Tmux, run_rat, wait_for, write

from rat_tui.app import RatApp
from rat_tui.screens.export import ConfirmScreen, PathScreen
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import PLACEHOLDER, SqlEditor


def built(ws: Path, files: dict[str, str]) -> None:
    """Write the files into the workspace and run it (it must succeed)."""
    for rel, text in files.items():
        write(ws / rel, text)
    assert run_rat("run", "-w", str(ws)).returncode == 0


def fresh(root: Path, **kwargs: object) -> RatApp:
    (root / ".rat" / "buffers.json").unlink(missing_ok=True)
    (root / ".rat" / "workbench.json").unlink(missing_ok=True)
    return RatApp(root, watch=False, **kwargs)  # type: ignore[arg-type]


async def test_typing_first_runs_what_was_typed_in_an_empty_lake(ws: Path) -> None:
    app = fresh(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.workbench.editor
        assert editor.text == "" and editor.placeholder == PLACEHOLDER and editor.has_focus
        await wait_for(pilot, lambda: app.workbench.query_one("#empty-lake").display)
        assert "landing/ is empty" in str(app.workbench.query_one("#empty-lake").render())
        await pilot.press(*"select 6*7 as a")
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.rows == 1)
        assert results.table is not None and results.table.column("a").to_pylist() == [42]
        assert str(results.title.render()).startswith("1 row ")  # singular


async def test_a_key_per_pane_works_from_every_pane(demo: Path) -> None:
    app = fresh(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.workbench
        await wait_for(pilot, lambda: "gold.daily_revenue" in app.query_one(LakeTree).tables)
        await pilot.press("f3")  # no results yet: says so, the focus stays
        assert screen.editor.has_focus
        screen.editor.text = "select * from gold.daily_revenue"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows > 0)
        order = [("f3", "results"), ("tab", "results"), ("f6", "tree"), ("f7", "pipeline"), ("f3", "results")]
        order += [("f2", "editor"), ("f7", "pipeline"), ("f6", "tree"), ("f2", "editor")]
        for key, pane in order:
            await pilot.press(key)
            await pilot.pause(0.05)
            assert screen.focused_pane() == pane, (key, pane, screen.focused)
        assert app.query_one(PipelinePanel).display  # f7 showed it at 80 columns


async def test_full_screen_and_resizable_side_panels(demo: Path) -> None:
    app = fresh(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.workbench
        side = screen.query_one("#side")
        await pilot.pause(0.1)
        width = side.size.width
        await pilot.press("alt+right", "alt+right")
        await pilot.pause(0.1)
        assert side.size.width == width + 8
        saved = json.loads((demo / ".rat" / "workbench.json").read_text())["side_width"]
        await pilot.press("alt+left")
        await pilot.pause(0.1)
        assert side.size.width == width + 4
        assert json.loads((demo / ".rat" / "workbench.json").read_text())["side_width"] == saved - 4

        await pilot.press("f10")  # the editor full screen
        await pilot.pause(0.1)
        assert not side.display and not app.query_one(ResultsView).display
        assert screen.editor.size.width >= 110 and screen.editor.size.height >= 30
        await pilot.press("f10")
        await pilot.pause(0.1)
        assert side.display and app.query_one(ResultsView).display
        await pilot.press("f6", "f10")  # the tree full screen: whole names at any width
        await pilot.pause(0.1)
        assert not screen.query_one("#center").display and app.query_one(LakeTree).size.width >= 110
        await pilot.press("f2")  # another pane's key leaves full screen
        await pilot.pause(0.1)
        assert screen.query_one("#center").display and screen.editor.has_focus

    again = RatApp(demo, watch=False)  # the width is remembered
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        assert again.workbench.query_one("#side").size.width == width + 4


async def test_tabs_switch_by_key_and_files_save_in_place(ws: Path) -> None:
    model = write(ws / "models" / "silver" / "x.sql", "select 42 as x\n")
    write(ws / "queries" / "other.sql", "select 'keep me' as k\n")
    app = fresh(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.workbench
        screen.editor.text = "select 1 as first"
        await pilot.press("ctrl+n")
        await pilot.pause(0.05)
        screen.editor.text = "select 2 as second"
        await pilot.press("ctrl+pageup")
        await wait_for(pilot, lambda: screen.editor.text == "select 1 as first")
        await pilot.press("ctrl+pagedown")
        await wait_for(pilot, lambda: screen.editor.text == "select 2 as second")
        screen.action_tab_1()  # "tab 1" in the palette
        await wait_for(pilot, lambda: screen.editor.text == "select 1 as first" and screen.editor.has_focus)
        await pilot.press("ctrl+pageup")  # wraps round to the last tab
        await wait_for(pilot, lambda: screen.editor.text == "select 2 as second")

        # ctrl+o lists models/ and queries/; down and enter pick one; the tab is named after it.
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.editor.path == "models/silver/x.sql")
        assert str(screen.tabs.get_tab(str(screen.tabs.active)).label) == "x.sql"
        # Edited and saved in place with ctrl+s: no prompt.
        screen.editor.text = "select 43 as x\n"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: model.read_text() == "select 43 as x\n")
        assert not isinstance(app.screen, PathScreen)
        # Changed on disk by something else: the tab says so.
        write(model, "select 44 as x\n")
        os.utime(model, ns=(1, 1))
        await wait_for(pilot, lambda: any("changed on disk" in n.message for n in app._notifications), timeout=10)

        # A tab with no file asks for a name, and before overwriting another file.
        screen.action_tab_1()
        await pilot.pause(0.05)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one("Input").value = "queries/other.sql"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.1)
        assert (ws / "queries" / "other.sql").read_text() == "select 'keep me' as k\n"
        assert screen.editor.path is None

    # The tabs and their files come back after a restart.
    again = RatApp(ws, watch=False)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        paths = [e.path for e in again.query(SqlEditor)]
        assert "models/silver/x.sql" in paths and len(paths) == 3


async def test_open_model_from_the_tree_and_insert_quoted_names(ws: Path) -> None:
    built(ws, {"landing/t.csv": 'id,"Odd Name"\n1,2\n', "models/silver/m.sql": "select * from bronze.t\n"})
    app = fresh(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.workbench
        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: "silver.m" in tree.tables)
        await pilot.press("f6")
        tree.select("silver.m")
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.editor.path == "models/silver/m.sql")
        assert screen.editor.text == "select * from bronze.t\n"

        screen.action_tab_1()
        screen.editor.text = "select"
        screen.editor.move_cursor((0, 6))
        await pilot.pause()
        await pilot.press("f6")
        tree.select("bronze.t.Odd Name")
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.editor.text == 'select "Odd Name"')


async def test_sorting_keeps_the_focus_and_the_column(demo: Path) -> None:
    from textual_fastdatatable import DataTable

    app = fresh(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.workbench
        sql = "select * from (values (2, 'b'), (3, 'a'), (1, 'c')) t(n, s)"
        screen.editor.text = sql
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.rows == 3)
        await pilot.press("f3", "right", "s")
        await wait_for(pilot, lambda: results.sorted_by == ("s", "ascending"))
        await pilot.pause(0.1)
        await pilot.press("s")  # the second press sorts descending: never typed into the editor
        await wait_for(pilot, lambda: results.sorted_by == ("s", "descending"))
        await pilot.pause(0.1)
        grid = results.query_one(DataTable)
        assert grid.has_focus and grid.cursor_coordinate.column == 1
        assert results.table is not None and results.table.column("s").to_pylist() == ["c", "b", "a"]
        assert screen.editor.text == sql


def test_the_real_rat_in_tmux_by_keys_alone(demo: Path) -> None:
    """At 80×24: type into the fresh editor, run, move through every pane, switch tabs, edit a
    model file in place."""
    model = demo / "models" / "gold" / "daily_revenue.sql"
    original = model.read_text()
    (demo / ".rat" / "buffers.json").unlink(missing_ok=True)
    with Tmux(f"{RAT} -w {demo}", 80, 24, name="rat-keys") as term:
        until, keys, screen = term.until, term.keys, term.screen
        try:
            until("type SQL here")
            until("f1 Help")  # the footer keeps help in reach at 80 columns
            until("daily_revenue")  # the lake tree has loaded
            # Typed and run in one burst (a paste, a fast typist): the query is all that was typed,
            # not the part the editor had taken when the priority key ran.
            keys("select 6 * 7 as answer order by 1 desc", "C-j")  # desc: the list would offer describe
            until("1 row ")
            assert "42" in screen()
            with sqlite3.connect(demo / ".rat" / "state.sqlite") as db:
                [(ran,)] = db.execute("SELECT sql FROM queries ORDER BY id DESC LIMIT 1").fetchall()
            assert ran == "select 6 * 7 as answer order by 1 desc"
            assert "keyword" not in screen()  # and the completion of its last word stays shut
            keys("F3")
            until("Sort by column")  # the grid has the focus: its keys in the footer
            keys("F6")
            until("Insert name")  # the tree
            keys("F7")
            until("state")  # the pipeline panel, shown at 80 columns by its key
            keys("F2")
            keys("C-n")
            until("query 2")
            keys("C-PageUp")
            until("select 6 * 7")  # back on the first tab
            keys("F10")
            until("editor full screen")
            assert "bronze" not in screen()  # the editor alone
            keys("F10")
            # Open the model, add a line at its end, save it in place.
            keys("C-o")
            until("Open a .sql file")
            keys("gold/daily_revenue.sql", literal=True)
            keys("Enter")
            until("1  /* rat")  # the model's text in its own tab
            keys("C-End")
            keys("Enter")
            keys("-- edited in rat", literal=True)
            keys("C-s")
            until("saved models/gold/daily_revenue.sql")
            assert model.read_text() == original + "\n-- edited in rat"
        finally:
            model.write_text(original)


async def test_failures_and_quarantine_stay_visible_and_up_to_date_says_so(ws: Path) -> None:
    from rat_tui.screens.runs import RunsScreen

    write(ws / "landing" / "t.csv", "id\n1\n")
    write(ws / "landing" / "bad" / "broken.json", "{not json")
    write(ws / "models" / "silver" / "bad.sql", "select nope from bronze.t\n")
    write(ws / "models" / "silver" / "good.sql", "select id from bronze.t\n")
    assert run_rat("run", "-w", str(ws)).returncode == 1
    app = fresh(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.workbench
        marker = screen.query_one("#attention")
        await wait_for(pilot, lambda: marker.display)
        text = str(marker.render())
        assert "1 model failing: silver.bad" in text and "1 file in quarantine" in text
        # Enter on an up-to-date model says so, and how to force it; nothing is queued.
        panel = app.query_one(PipelinePanel)
        await wait_for(pilot, lambda: panel.state_of("silver.good") == "ok")
        panel.focus()
        panel.move_cursor(row=panel.get_row_index("silver.good"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("silver.good is up to date" in n.message for n in app._notifications))
        assert "f rebuilds it" in next(n.message for n in app._notifications if "up to date" in n.message)
        # The runs screen names the quarantined file and why.
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and bool(app.screen.details))
        await pilot.pause(0.2)
        problems = str(app.screen.query_one("#run-problems").render())
        assert "quarantined landing/bad/broken.json" in problems and "silver.bad" in problems
        await pilot.press("escape")

        write(ws / "models" / "silver" / "bad.sql", "select id as nope from bronze.t\n")
        (ws / ".rat" / "quarantine").rename(ws / ".rat" / "quarantine-seen")
        assert run_rat("run", "-w", str(ws)).returncode == 0
        await wait_for(pilot, lambda: not marker.display, timeout=15)


async def test_find_and_go_to_line(ws: Path) -> None:
    from rat_tui.screens.export import PromptScreen

    app = fresh(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.workbench.editor
        editor.text = "select a\nfrom t\nwhere a = 1\nand b = 2\n"
        editor.move_cursor((0, 0))
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"A =", "enter")
        await wait_for(pilot, lambda: editor.selected_text == "a =")
        assert editor.selection.start == (2, 6)
        await pilot.press("ctrl+f")  # the term is kept: enter finds the next one, wrapping
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: editor.selection.start == (2, 6) and editor.has_focus)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("4", "enter")
        await wait_for(pilot, lambda: editor.cursor_location == (3, 0))
        await pilot.press("ctrl+end")
        assert editor.cursor_location == (4, 0)
        await pilot.press("ctrl+home")
        assert editor.cursor_location == (0, 0)
        await pilot.press("ctrl+a")
        assert editor.selected_text == editor.text


async def test_the_table_screen_shows_the_code_that_builds_it(ws: Path) -> None:
    from textual.widgets import TextArea

    from rat_tui.screens.table import TableScreen

    model = '/* rat\n[checks]\nnot_null = ["id"]\n*/\nselect * from bronze.t\n'
    built(ws, {"landing/t.csv": "id\n1\n2\n", "models/silver/m.sql": model})
    app = fresh(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(TableScreen(app.workspace, "silver.m"))
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.loaded))
        title = str(screen.query_one("#code-title").render())
        assert "model: models/silver/m.sql" in title and "materialized: table" in title
        assert "checks: not_null(id)" in title
        assert screen.query_one("#code-text", TextArea).text.endswith("select * from bronze.t\n")
        assert "model: models/silver/m.sql" in str(screen.query_one("#lineage-text").render())
        await pilot.press("escape")
        app.push_screen(TableScreen(app.workspace, "bronze.t"))
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.loaded))
        title = str(screen.query_one("#code-title").render())
        assert "ingested from landing/t/" in title and "t.csv  2 rows  ingested" in title
        assert not screen.query_one("#code-text").display


def test_the_lineage_graph_marks_each_state() -> None:
    from rich.console import Console

    from rat_tui.screens.lineage import draw

    console = Console(width=80, record=True)
    states = {"bronze.a": "ok", "silver.b": "failed", "gold.c": "skipped", "gold.d": "stale"}
    edges = [("bronze.a", "silver.b"), ("silver.b", "gold.c"), ("silver.b", "gold.d")]
    console.print(draw(["bronze.a", "silver.b", "gold.c", "gold.d"], edges, None, states))
    text = console.export_text()
    assert "✓ a" in text and "✗ b" in text and "… c" in text and "↻ d" in text
