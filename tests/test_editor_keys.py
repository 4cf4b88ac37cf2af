"""The editor's keys beyond typing: f4 formats SQL (sqlfmt), ctrl+t picks a tab by its number."""

from __future__ import annotations

from pathlib import Path

from conftest import run_rat, wait_for, write
from test_workbench_keys import fresh

from rat_tui.screens.tab_picker import TabPicker


async def test_f4_formats_the_tab_or_the_selection_and_one_undo_puts_it_back(ws: Path) -> None:
    app = fresh(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.workbench.editor
        messy = "SELECT a,b   FROM gold.x WHERE a>1 QUALIFY row_number() over (partition by a order by b)=1\n"
        editor.text = messy
        await pilot.press("f4")
        formatted = "select a, b\nfrom gold.x\nwhere a > 1\nqualify row_number() over (partition by a order by b) = 1\n"
        assert editor.text == formatted
        await pilot.press("ctrl+z")
        assert editor.text == messy

        # Only the selection, when there is one; the rest of the tab is left as it was.
        editor.text = "-- keep   THIS\nSELECT 1+1   AS two\n"
        editor.select_line(1)
        await pilot.press("f4")
        assert editor.text == "-- keep   THIS\nselect 1 + 1 as two\n"

        # Text sqlfmt cannot parse stays as typed, and the reason is shown.
        editor.text = "select a) from t"
        await pilot.press("f4")
        assert editor.text == "select a) from t"
        await wait_for(pilot, lambda: any("not formatted" in n.message for n in app._notifications))
        assert any("Closing bracket" in n.message for n in app._notifications)


async def test_ctrl_t_lists_the_tabs_and_a_digit_switches(ws: Path) -> None:
    app = fresh(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.workbench
        screen.editor.text = "select 1 as first"
        for n in (2, 3):
            await pilot.press("ctrl+n")
            await pilot.pause(0.05)
            screen.editor.text = f"select {n}"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TabPicker))
        picker = app.screen
        assert picker.titles == ["query 1", "query 2", "query 3"]
        assert picker.query_one("OptionList").highlighted == 2  # the tab one is on
        await pilot.press("1")
        await wait_for(pilot, lambda: screen.editor.text == "select 1 as first" and screen.editor.has_focus)

        await pilot.press("ctrl+t")  # enter takes the highlighted one
        await wait_for(pilot, lambda: isinstance(app.screen, TabPicker))
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: screen.editor.text == "select 3" and screen.editor.has_focus)

        await pilot.press("ctrl+t")  # a number past the last tab says so; escape goes back
        await wait_for(pilot, lambda: isinstance(app.screen, TabPicker))
        await pilot.press("7")
        await wait_for(pilot, lambda: any("no tab 7" in n.message for n in app._notifications))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TabPicker) and screen.editor.has_focus)
        assert screen.editor.text == "select 3"


async def test_the_grid_searches_its_rows_and_columns_change_width(ws: Path) -> None:
    from textual_fastdatatable import DataTable

    from rat_tui.screens.export import PromptScreen
    from rat_tui.widgets.grid_tools import column_width
    from rat_tui.widgets.results import ResultsView

    app = fresh(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.workbench
        sql = "select i, case when i % 7 = 3 then 'needle ' || i else repeat('x', 60) end as s from range(50) t(i)"
        screen.editor.text = sql
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.rows == 50)
        await pilot.press("f3", "slash")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"NEEDLE", "enter")
        grid = results.query_one(DataTable)
        await wait_for(pilot, lambda: grid.cursor_coordinate == (3, 1) and grid.has_focus)
        await pilot.press("n")
        await wait_for(pilot, lambda: grid.cursor_coordinate == (10, 1))
        for _ in range(6):  # 17, 24, 31, 38, 45, then round to the top
            await pilot.press("n")
        await wait_for(pilot, lambda: grid.cursor_coordinate == (3, 1))
        await pilot.press("slash")  # a number is found in the number column too
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one("Input").value = "49"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: grid.cursor_coordinate == (49, 0))
        assert screen.editor.text == sql  # nothing was typed into the editor

        # < and > change the cursor's column; sorting keeps the width.
        assert column_width(grid, 1) == 40  # the default limit
        await pilot.press("right", "less_than_sign", "less_than_sign")
        assert column_width(grid, 1) == 32
        before = grid.virtual_size.width
        await pilot.press("greater_than_sign", *["greater_than_sign"] * 8)
        assert column_width(grid, 1) == 60  # up to its widest value, no further
        assert grid.virtual_size.width == before + 28
        await pilot.press("s")
        await wait_for(pilot, lambda: results.sorted_by == ("s", "ascending"))
        await pilot.pause(0.1)
        assert column_width(results.query(DataTable).last(), 1) == 60


def test_matches_finds_text_in_every_type() -> None:
    import pyarrow as pa

    from rat_tui.widgets.grid_tools import matches, next_match

    table = pa.table({"n": [10, 21, None], "tags": [["a", "Ab"], None, ["zz"]], "s": ["x", "AB", None]})
    assert matches(table, "ab") == [(0, 1), (1, 2)]
    assert matches(table, "1") == [(0, 0), (1, 0)]
    assert next_match(table, "ab", (0, 1)) == (1, 2)
    assert next_match(table, "ab", (1, 2)) == (0, 1)  # wraps
    assert next_match(table, "nowhere", (0, 0)) is None


async def test_one_vocabulary_of_types_in_the_tree_completion_and_schema_tab(ws: Path) -> None:
    import duckdb
    from test_workbench_keys import built

    from rat_tui.screens.table import TableScreen
    from rat_tui.widgets.lake_tree import LakeTree

    sql = (
        "select 1::bigint as a, 'x' as b, 1.5::decimal(10,2) as c, date '2020-01-01' as d,"
        " now() as e, now()::timestamp as e2, [1, 2] as f, {'x': 1, 'y z': 'q'} as g,"
        " map {'k': 1} as h, true as i, 'x'::blob as j, 1::int as k, 1.0::double as l\n"
    )
    built(ws, {"models/silver/types.sql": sql})
    described = duckdb.sql(f"describe {sql}").fetchall()
    expected = [(name, kind) for name, kind, *_ in described]
    app = fresh(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: "silver.types" in tree.columns)
        assert tree.columns["silver.types"] == expected  # DuckDB's names, as a cast writes them
        candidates = app.workbench.completer.complete("select types.", explicit=True)[1]
        assert {c.name: c.detail for c in candidates} == {n: f"{k} · silver.types" for n, k in expected}
        app.push_screen(TableScreen(app.workspace, "silver.types"))
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded, timeout=20)
        schema = screen.query_one("#schema-grid")
        assert [tuple(schema.get_row_at(i)) for i in range(schema.row_count)] == expected
        assert str(screen.query_one("#preview-title").render()) == "1 row"  # not "1 rows; the first 1 below"


async def test_long_details_scroll_from_the_keyboard_at_80x24(ws: Path) -> None:
    """The runs screen's problems and the error screen's message are reached with tab and scrolled
    with the keys: at 80×24 neither fits."""
    from textual.containers import VerticalScroll

    from rat_tui.screens.error import ErrorScreen
    from rat_tui.screens.runs import RunsScreen
    from rat_tui.widgets.lake_tree import LakeTree

    write(ws / "landing" / "t.csv", "id\n1\n")
    for n in range(30):
        write(ws / "landing" / "bad" / f"broken{n:02}.json", f"{{not json {n}")  # distinct bytes: no duplicates
    # Thirty failing checks: one long message, wrapped over more lines than the screen has.
    checks = ", ".join(f'"id > {100 + n}"' for n in range(30))
    write(
        ws / "models" / "silver" / "loud.sql",
        f"/* rat\n[checks]\nexpression = [{checks}]\n*/\nselect id from bronze.t\n",
    )
    assert run_rat("run", "-w", str(ws)).returncode == 1
    app = fresh(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and bool(app.screen.details))
        runs = app.screen
        assert runs.query_one("#runs-grid").has_focus  # the screen opens on its main widget
        problems = runs.query_one("#run-problems-scroll", VerticalScroll)
        await wait_for(pilot, lambda: problems.max_scroll_y > 0)
        await pilot.press("tab", "tab")
        assert problems.has_focus
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: problems.scroll_y > 0)
        await pilot.press("end")
        await wait_for(pilot, lambda: problems.scroll_y == problems.max_scroll_y)
        await pilot.press("escape")

        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: getattr(tree.tables.get("silver.loud"), "error", None))
        app.push_screen(ErrorScreen(ws, tree.tables["silver.loud"]))
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen) and bool(app.screen.query("#error-scroll")))
        message = app.screen.query_one("#error-scroll", VerticalScroll)
        await wait_for(pilot, lambda: message.max_scroll_y > 0)
        assert message.has_focus  # the error first: the source is a tab away
        await pilot.press("end")
        await wait_for(pilot, lambda: message.scroll_y == message.max_scroll_y)
        await pilot.press("tab")
        assert app.screen.query_one("#source").has_focus
