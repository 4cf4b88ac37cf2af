"""The workbench, driven in-process with Textual's Pilot, and once for real in tmux."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import RAT, Tmux, run_rat, wait_for, write

from rat_tui.app import RatApp
from rat_tui.engine import Engine
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor, statement_at


def tree_state(app: RatApp, table: str) -> str | None:
    """The state the lake tree shows for a table (None before it lists it)."""
    entry = app.query_one(LakeTree).tables.get(table)
    return None if entry is None else str(entry.state)


def test_statement_under_the_cursor() -> None:
    text = "select 1;\nselect ';' as x;\n-- a; comment\nselect 3"
    assert statement_at(text, 3) == "select 1"
    assert statement_at(text, 14) == "select ';' as x"
    assert statement_at(text, len(text)) == "-- a; comment\nselect 3"
    assert statement_at("select 1; select 2", len("select 1;")) == "select 1"  # right after the `;`


async def test_opens_with_the_editor_focused_and_ctrl_j_runs_a_query(demo: Path) -> None:
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(SqlEditor)
        assert app.focused is editor
        editor.text = "select order_date, revenue from gold.daily_revenue order by order_date limit 7"
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.rows == 7)
        assert "7 rows" in str(results.title.render())


async def test_a_bad_query_is_a_message_not_a_crash(demo: Path) -> None:
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        results = app.query_one(ResultsView)
        app.query_one(SqlEditor).text = "select 1 as earlier"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: results.rows == 1)
        app.query_one(SqlEditor).text = "select * from gold.nope"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: "failed" in str(results.title.render()))
        # The error whole, wrapped (DuckDB's message runs over several lines), the earlier rows gone.
        assert "nope" in results.error_text and results.error_text.endswith("`rat status` lists the tables")
        await pilot.pause(0.1)
        assert results.query_one("#results-error").size.height >= 2  # wrapped at 80 columns, not cut
        assert results.table is None and not results.query("DataTable")


@pytest.mark.parametrize(
    "sql",
    [
        "select null",
        "select 1 where false",
        "select '[/x]' as \"[b]\"",
        "select " + ", ".join(f"{i} as c{i}" for i in range(1000)),
        "   ",
    ],
)
async def test_edge_queries_do_not_crash(demo: Path, sql: str) -> None:
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(SqlEditor).text = sql
        await pilot.press("ctrl+j")
        await pilot.pause(1.0)
        assert app.is_running


async def test_widgets_tick_on_their_own_timers_so_a_shutdown_cannot_trip_on_them(demo: Path) -> None:
    # Textual removes the widgets in no promised order when the app closes; a timer of the app
    # that queried the pipeline panel failed the shutdown when the panel went first (CI failed on
    # exactly this). Each widget now ticks on its own timer: one removed takes its timer with it.
    from rat_tui.widgets.pipeline import PipelinePanel

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.query_one(PipelinePanel).row_count > 0)  # the lake is loaded
        await app.query_one(PipelinePanel).remove()
        await pilot.pause(1.2)  # past two ticks of the panel's old half-second timer
        assert app.is_running and app.query_one(LakeTree)
        app.query_one(SqlEditor).text = "select 1 as still_works"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows == 1)


async def test_the_lake_tree_lists_tables_and_inserts_names(demo: Path) -> None:
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: "gold.daily_revenue" in tree.tables)
        editor = app.query_one(SqlEditor)
        editor.text = ""
        tree.focus()
        tree.select("gold.daily_revenue")
        await pilot.press("i")
        await wait_for(pilot, lambda: editor.text == "gold.daily_revenue")
        assert app.focused is editor


async def test_a_reload_of_the_lake_keeps_the_trees_cursor_and_what_is_open(demo: Path) -> None:
    """The tree is rebuilt on every commit: the cursor must not jump to the top under the user's enter."""
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: "silver.orders" in tree.tables)
        await pilot.pause(0.3)
        tree.focus()
        silver = tree.root.children[1]
        orders = next(n for n in silver.children if n.data == "silver.orders")
        orders.expand()
        tree.root.children[0].collapse()  # bronze
        await pilot.pause()
        tree.move_cursor(orders)
        tables, columns = list(tree.tables.values()), dict(tree.columns)
        tree.update_tables(tables, columns)
        assert tree.cursor_node is not None and tree.cursor_node.data == "silver.orders"
        assert not tree.root.children[0].is_expanded and tree.root.children[1].is_expanded
        assert next(n for n in tree.root.children[1].children if n.data == "silver.orders").is_expanded
        await pilot.pause()
        tree.move_cursor(tree.cursor_node.children[0])  # a column of silver.orders
        column = tree.cursor_node.data
        tree.update_tables(tables, columns)
        assert tree.cursor_node.data == column
        tree.update_tables([t for t in tables if t.name != "silver.orders"], columns)
        assert tree.cursor_node.data == "silver"  # its table went: the cursor stays in its layer


async def test_a_new_table_appears_live_while_the_engine_watches(ws: Path) -> None:
    root = ws
    app = RatApp(root, watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.mode == "watching")
        write(root / "landing" / "fresh.csv", "id\n1\n2\n")
        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: "bronze.fresh" in tree.tables, timeout=20)
        assert tree.tables["bronze.fresh"].rows == 2


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_real_rat_in_tmux_answers_a_query(demo: Path) -> None:
    (demo / ".rat" / "buffers.json").unlink(missing_ok=True)  # other tests' editor text: start clean
    with Tmux(f"{RAT} -w {demo}", 120, 40) as term:
        term.until("no query yet")
        time.sleep(0.5)
        # Typed at the top of the editor; the cursor sits right after the `;` when ctrl+j comes.
        term.keys("select 6 * 7 as answer", literal=True)
        term.keys("\\;")
        term.keys("C-j")
        screen = term.until("1 row ")
        assert "42" in screen, screen


async def test_query_history_finds_and_reuses_past_queries(demo: Path) -> None:
    from textual.widgets import Input, OptionList

    from rat_tui.screens.history import HistoryScreen

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(SqlEditor)
        results = app.query_one(ResultsView)
        for sql in ("select 41 + 1 as a", "select 'needle' as b", "select * from gold.nope"):
            editor.text = sql
            await pilot.press("ctrl+j")
            await pilot.pause(0.1)
            await wait_for(pilot, lambda: not str(results.title.render()).startswith("running"))
            await pilot.pause(0.2)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        assert screen.query_one(OptionList).option_count >= 3
        screen.query_one(Input).value = "needle"
        await pilot.pause(0.2)
        assert screen.query_one(OptionList).option_count == 1
        await pilot.press("enter")  # a new tab: the text being edited stays in its own
        await wait_for(pilot, lambda: app.workbench.editor.text == "select 'needle' as b")
        assert editor.text == "select * from gold.nope" and len(app.query(SqlEditor)) == 2
    engine = Engine.open(demo)
    try:
        past = engine.query_history()
        failed = next(q for q in past if q.sql == "select * from gold.nope")
        assert failed.error is not None and "nope" in failed.error and failed.rows is None
        assert next(q for q in past if q.sql == "select 41 + 1 as a").rows == 1
    finally:
        engine.close()


async def test_f1_lists_the_keys(demo: Path) -> None:
    from rat_tui.screens.help import HelpScreen

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        from rat_tui.screens.help import help_table

        console = Console(width=76, record=True)
        console.print(help_table())
        text = console.export_text()
        assert "ctrl+j" in text and "f8" in text
        # A wrapped line continues under its own column, not under the keys.
        lines = text.splitlines()
        wrapped = [line for line in lines if line.startswith(" " * 16) and line.strip()]
        assert wrapped, text  # (the old help ran a wrapped line back to the left edge)
        scroll = app.screen.query_one("VerticalScroll")
        await pilot.press("pagedown")  # the keys scroll from the keyboard
        await pilot.pause(0.2)
        assert scroll.scroll_y > 0
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_export_writes_the_whole_result_past_the_fetch_limit(demo: Path) -> None:
    from dataclasses import replace

    import pyarrow.parquet as pq
    from textual.widgets import Input

    from rat_tui.screens.export import PathScreen

    app = RatApp(demo, watch=False)
    app.workspace.settings = replace(app.workspace.settings, fetch_limit=10)  # [workbench] fetch_limit
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(SqlEditor).text = "select * from silver.orders"
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.rows == 10 and results.total == 2470)  # the grid holds 10 ...
        assert "showing 10 of 2,470 rows" in str(results.title.render())
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = "out/orders.txt"
        await pilot.press("enter")
        assert isinstance(app.screen, PathScreen)  # refused: not a known format
        app.screen.query_one(Input).value = "out/orders.parquet"
        await pilot.press("enter")
        target = demo / "out" / "orders.parquet"

        def written() -> bool:  # exists() alone would race DuckDB still writing the file
            try:
                return pq.read_metadata(target).num_rows == 2470
            except Exception:
                return False

        await wait_for(pilot, written)


async def test_escape_and_closing_cancel_an_export_and_a_cancelled_query_is_not_exported(demo: Path) -> None:
    # Found by a review: ctrl+e re-ran a query the user had cancelled, escape could not stop the
    # export, a partial file stayed, and ctrl+q hung until the process was killed.
    from textual.widgets import Input

    from rat_tui.screens.export import PathScreen

    slow = "select md5(range::varchar) as m from range(3000000000)"  # minutes to write whole
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        editor, results = app.query_one(SqlEditor), app.query_one(ResultsView)
        editor.text = "select sum(hash(range)) from range(100000000000)"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.workbench.query_running)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in str(results.title.render()))
        await pilot.press("ctrl+e")  # nothing shown yet: nothing to export
        await pilot.pause(0.2)
        assert not isinstance(app.screen, PathScreen)
        editor.text = slow
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: results.rows > 0)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = "out/slow.csv"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(e.running for e in app.workbench.exports))
        started = time.monotonic()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not any(e.running for e in app.workbench.exports), timeout=10)
        assert time.monotonic() - started < 5
        await pilot.pause(0.3)
        assert not (demo / "out" / "slow.csv").exists()  # no partial file
        assert any("export failed" in n.message and "cancelled" in n.message for n in app._notifications)
        # Closing the workbench while an export runs cancels it instead of hanging.
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = "out/slow2.csv"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(e.running for e in app.workbench.exports))
        running = [e for e in app.workbench.exports if e.running]
    deadline = time.monotonic() + 10
    while not all(e.finished for e in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(e.finished for e in running) and not (demo / "out" / "slow2.csv").exists()


async def test_a_10m_row_result_shows_its_first_rows_and_counts_the_rest(demo: Path) -> None:
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(SqlEditor).text = "select range as i, range * 2 as j from range(10000000)"
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.total == 10_000_000)
        assert results.rows == 100_000 and results.table is not None and results.table.num_rows == 100_000
        assert "showing 100,000 of 10,000,000 rows" in str(results.title.render())


async def test_copy_cell_uses_the_clipboard(demo: Path) -> None:
    from textual_fastdatatable import DataTable

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(SqlEditor).text = "select 'hello' as greeting"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows == 1)
        app.query_one(ResultsView).query_one(DataTable).focus()
        await pilot.press("ctrl+y")
        assert app.clipboard == "hello"
        app.query_one(SqlEditor).focus()
        app.query_one(
            SqlEditor
        ).text = "select * from (values (1, 'a\tb', null), (2, 'c', 3.5)) t(id, s, x) order by id"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows == 2)
        grid = app.query_one(ResultsView).query_one(DataTable)
        grid.focus()
        grid.move_cursor(row=1)
        await pilot.press("r")
        assert app.clipboard == "id\ts\tx\n2\tc\t3.5"
        await pilot.press("R")
        assert app.clipboard == "id\ts\tx\n1\ta b\t\n2\tc\t3.5"


async def test_the_table_screen_shows_preview_schema_profile_versions_and_lineage(demo: Path) -> None:
    from rat_tui.screens.table import TableScreen, bars

    assert bars([("a", 8), ("b", 4)], 12).splitlines()[0].startswith("  a ")
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one(LakeTree)
        await wait_for(pilot, lambda: "silver.orders" in tree.tables)
        tree.focus()
        tree.select("silver.orders")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TableScreen))
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.loaded))
        data = screen.loaded
        assert "error" not in data, data
        assert data["total"] == 2470 and data["preview"].num_rows == 200
        assert ("order_id", "VARCHAR") in data["schema"]
        status = next(p for p in data["profile"] if p["column"] == "status")
        assert {v for v, _ in status["top"]} <= {"new", "paid", "shipped", "cancelled"}
        assert not status["hist"]  # four values: top values, not a histogram
        amount = next(p for p in data["profile"] if p["column"] == "amount")
        assert len(amount["hist"]) == 10 and sum(n for _, n in amount["hist"]) == data["total"] - round(
            float(amount["summary"][11]) * data["total"] / 100
        )  # every non-null amount falls in one of ten equal-width bins
        order_date = next(p for p in data["profile"] if p["column"] == "order_date")
        assert order_date["hist"][0][0].startswith("2024-01-01 – ")
        assert "every value distinct" in str(screen.query_one("#profile-text").render())  # order_id
        assert [v["version"] for v in data["versions"]] == [0]
        assert data["reads"] == ["bronze.orders"]
        assert "gold.daily_revenue" in data["downstream"]
        await pilot.press("escape")
        assert not isinstance(app.screen, TableScreen)


async def test_the_runs_screen_shows_builds_errors_and_failed_checks(ws: Path) -> None:
    from textual.widgets import DataTable as Grid

    from rat_tui.screens.runs import RunsScreen

    root = ws
    write(root / "landing" / "t.csv", "id\n1\n1\n")
    write(root / "models" / "silver" / "ok.sql", "select 1 as one")
    write(root / "models" / "silver" / "dup.sql", '/* rat\n[checks]\nunique = ["id"]\n*/\nselect * from bronze.t')
    assert run_rat("run", "-w", str(root)).returncode == 1
    app = RatApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.details)
        await pilot.pause(0.2)
        screen = app.screen
        assert screen.query_one("#runs-grid", Grid).row_count == 1
        assert screen.query_one("#run-models", Grid).row_count == 2
        problems = str(screen.query_one("#run-problems").render())
        assert "check unique(id) (error) fail: 1 row" in problems and '"id": 1' in problems


async def test_editor_tabs_are_kept_across_restarts(ws: Path) -> None:
    root = ws
    app = RatApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.workbench.editor.text = "select 1 as first"
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert app.focused is app.workbench.editor
        app.workbench.editor.text = "select 2 as second"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows == 1)
    again = RatApp(root, watch=False)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert [e.text for e in again.query(SqlEditor)] == ["select 1 as first", "select 2 as second"]
        await pilot.press("ctrl+w")
        await pilot.pause(0.2)
        assert len(list(again.query(SqlEditor))) == 1


async def test_the_lineage_screen_marks_upstream_and_downstream(demo: Path) -> None:
    from rat_tui.engine import reachable as related
    from rat_tui.screens.lineage import LineageScreen

    edges = [("bronze.a", "silver.b"), ("silver.b", "gold.c"), ("bronze.x", "gold.c")]
    assert related(edges, "silver.b", forward=False) == {"bronze.a"}
    assert related(edges, "silver.b", forward=True) == {"gold.c"}
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f12")
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen) and app.screen.tables)
        screen = app.screen
        screen.query_one("#lineage-tables").highlighted = screen.tables.index("silver.orders")
        await pilot.pause(0.2)
        assert screen.selected == "silver.orders"
        assert ("bronze.orders", "silver.orders") in screen.edges
        drawn = str(screen.query_one("#edges").render())
        assert "bronze.orders → silver.orders" in drawn and "silver.orders → gold.daily_revenue" in drawn
        assert screen.states["silver.orders"] == "ok"  # each node drawn with its state's mark


async def test_usable_at_80_by_24(demo: Path) -> None:
    from rat_tui.widgets.pipeline import PipelinePanel

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.workbench.editor
        assert editor.size.width >= 40  # the editor keeps room to type in
        assert not app.query_one(PipelinePanel).display
        editor.text = "select 42 as answer"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows == 1)
        await pilot.press("f9")
        assert not app.workbench.query_one("#side").display
        await pilot.press("f9")
        assert app.query_one(LakeTree).display and not app.query_one(PipelinePanel).display
        await pilot.press("f7")  # the pipeline's key shows it, even at 80 columns
        assert app.query_one(PipelinePanel).display and app.query_one(PipelinePanel).has_focus
        await pilot.resize_terminal(140, 40)  # a wider terminal brings the pipeline panel back ...
        await wait_for(pilot, lambda: app.size.width == 140)
        assert app.query_one(PipelinePanel).display
        await pilot.resize_terminal(80, 24)  # ... and a narrower one hides it again
        await wait_for(pilot, lambda: not app.query_one(PipelinePanel).display)
        await pilot.resize_terminal(200, 60)  # a big terminal: every panel, the editor gets the room
        await wait_for(pilot, lambda: app.size.width == 200 and app.query_one(PipelinePanel).display)
        await pilot.pause(0.1)
        assert app.workbench.editor.size.width >= 90 and app.query_one(ResultsView).size.height >= 25


async def test_comment_toggle_sort_and_view_cell(demo: Path) -> None:
    from textual_fastdatatable import DataTable

    from rat_tui.screens.cell import CellScreen

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.workbench.editor
        editor.text = "select 1\nfrom x"
        editor.select_all()
        editor.action_toggle_comment()
        assert editor.text == "-- select 1\n-- from x"
        editor.select_all()
        editor.action_toggle_comment()
        assert editor.text == "select 1\nfrom x"

        editor.text = "select * from (values (2, 'b'), (3, 'a'), (1, repeat('long ', 50))) t(n, s)"
        await pilot.press("ctrl+j")
        results = app.query_one(ResultsView)
        await wait_for(pilot, lambda: results.rows == 3)
        await pilot.pause(0.2)
        results.query_one(DataTable).focus()
        await pilot.press("s")
        await pilot.pause(0.2)
        assert results.table.column("n").to_pylist() == [1, 2, 3]
        results.query_one(DataTable).focus()
        await pilot.press("s")
        await pilot.pause(0.2)
        assert results.table.column("n").to_pylist() == [3, 2, 1]
        assert "sorted by n descending" in str(results.title.render())
        results.query_one(DataTable).focus()  # the grid sorting remounted
        await pilot.press("down", "down", "right")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, CellScreen))
        assert app.screen.value == "long " * 50


async def test_save_and_open_sql_files(ws: Path) -> None:
    from textual.widgets import Input

    from rat_tui.screens.export import PathScreen

    root = ws
    app = RatApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.workbench.editor.text = "select 'saved' as s"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = "queries/mine.sql"
        await pilot.press("enter")
        await wait_for(pilot, lambda: (root / "queries" / "mine.sql").exists())
        assert (root / "queries" / "mine.sql").read_text() == "select 'saved' as s"
        write(root / "models" / "silver" / "x.sql", "select 42 as x")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one(Input).value = "models/silver/x.sql"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.workbench.editor.text == "select 42 as x")
        assert len(list(app.query(SqlEditor))) == 2


async def test_pipeline_panel_runs_a_model_and_shows_its_error(ws: Path) -> None:
    from rat_tui.screens.error import ErrorScreen
    from rat_tui.widgets.pipeline import PipelinePanel

    root = ws
    write(root / "landing" / "t.csv", "id\n1\n")
    write(root / "models" / "silver" / "bad.sql", "select id,\n  nope + 1 as n\nfrom bronze.t\n")
    write(root / "models" / "gold" / "after.sql", "select * from silver.bad")
    assert run_rat("run", "-w", str(root)).returncode == 1
    app = RatApp(root, watch=True)
    async with app.run_test(size=(140, 40)) as pilot:
        panel = app.query_one(PipelinePanel)
        await wait_for(pilot, lambda: app.mode == "watching" and "silver.bad" in panel.rows)
        await wait_for(pilot, lambda: getattr(app.query_one(LakeTree).tables.get("silver.bad"), "error", None))
        panel.focus()
        panel.move_cursor(row=panel.get_row_index("silver.bad"))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen))
        screen = app.screen
        assert (screen.file, screen.line) == ("models/silver/bad.sql", 2)
        assert "nope" in screen.error
        assert screen.query_one("#source").selected_text == "  nope + 1 as n"  # the error's line, marked
        await pilot.press("o")  # the file opens in a new tab, the cursor on the error's line
        await wait_for(pilot, lambda: len(list(app.query(SqlEditor))) == 2 and "nope" in app.workbench.editor.text)
        await wait_for(pilot, lambda: app.workbench.editor.cursor_location == (1, 0))
        write(root / "models" / "silver" / "bad.sql", "select id from bronze.t")
        await wait_for(pilot, lambda: tree_state(app, "gold.after") == "ok")
        before = app.query_one(LakeTree).tables["gold.after"].version
        panel.focus()
        panel.move_cursor(row=panel.get_row_index("silver.bad"))
        await pilot.press("f")  # a full refresh of silver.bad and gold.after, by the watcher
        await wait_for(pilot, lambda: app.query_one(LakeTree).tables["gold.after"].version == before + 1)
        # A failed check opens at the line that declares it.
        write(
            root / "models" / "gold" / "checked.sql",
            '/* rat\n[checks]\nexpression = ["id > 5"]\n*/\nselect id from bronze.t\n',
        )
        await wait_for(pilot, lambda: tree_state(app, "gold.checked") == "check_failed")
        panel.focus()
        panel.move_cursor(row=panel.get_row_index("gold.checked"))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert (app.screen.file, app.screen.line) == ("models/gold/checked.sql", 3)
        assert "id > 5" in app.screen.error and "f5" in app.screen.error
        await pilot.press("escape")
        (root / "models" / "gold" / "checked.sql").unlink()  # a deleted model leaves the panel
        await wait_for(pilot, lambda: "gold.checked" not in panel.rows)


async def test_ingest_now_takes_files_still_settling(ws: Path) -> None:
    from rat_tui.widgets.pipeline import PipelinePanel

    root = ws
    toml = root / "rat.toml"
    # The watcher alone would wait two minutes for a dropped file to settle.
    toml.write_text(toml.read_text(encoding="utf-8").replace("# settle_seconds = 0.3", "settle_seconds = 120"))
    app = RatApp(root, watch=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.mode == "watching")
        write(root / "landing" / "more.csv", "id\n7\n")
        await pilot.pause(2.5)
        assert "bronze.more" not in app.query_one(LakeTree).tables  # still settling
        app.query_one(PipelinePanel).focus()
        await pilot.press("i")
        await wait_for(pilot, lambda: "bronze.more" in app.query_one(LakeTree).tables, timeout=20)
        assert app.query_one(LakeTree).tables["bronze.more"].rows == 1


async def test_completion_offers_tables_columns_keywords_and_functions(demo: Path) -> None:
    from rat_tui.widgets.completion import CompletionList

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        popup = app.query_one(CompletionList)
        editor = app.query_one(SqlEditor)
        await wait_for(
            pilot, lambda: "gold.daily_revenue" in app.workbench.completer.columns and app.workbench.completer.functions
        )

        # Members after `layer.`: the layer's tables; tab takes the highlighted one.
        editor.text = "select * from gold."
        editor.cursor_location = (0, len(editor.text))
        await pilot.press("d")
        await wait_for(pilot, lambda: popup.display)
        assert [c.name for c in popup.candidates] == ["daily_revenue"]
        await pilot.press("tab")
        assert editor.text == "select * from gold.daily_revenue"
        assert not popup.display

        # Members after an alias: that table's columns, from a FROM clause after the cursor.
        editor.text = "select r. from gold.daily_revenue r"
        editor.cursor_location = (0, len("select r."))
        await pilot.press("r")
        await wait_for(pilot, lambda: popup.display)
        assert popup.candidates and all(c.kind == "column" for c in popup.candidates)
        assert "revenue" in [c.name for c in popup.candidates]
        names = [c.name for c in popup.candidates]
        await pilot.press("down", "enter")  # enter takes a name picked with up/down
        assert editor.text == f"select r.{names[1]} from gold.daily_revenue r"

        # A `;` inside quotes does not end the statement: the FROM clause after it still counts.
        editor.text = "select r. , ';' as s from gold.daily_revenue r"
        editor.cursor_location = (0, len("select r."))
        await pilot.press("r")
        await wait_for(pilot, lambda: popup.display)
        assert "revenue" in [c.name for c in popup.candidates]
        await pilot.press("escape")

        # A name typed in full offers nothing more: enter is a new line.
        editor.text = "select * from gold.daily_revenu"
        editor.cursor_location = (0, len(editor.text))
        await pilot.press("e")
        await pilot.pause(0.1)
        assert not popup.display
        await pilot.press("enter")
        assert editor.text == "select * from gold.daily_revenue\n"
        # Without up/down, enter is a new line even with the list open; tab takes the first name.
        editor.text = "select ord"
        editor.cursor_location = (0, len(editor.text))
        await pilot.press("e")
        await wait_for(pilot, lambda: popup.display)
        await pilot.press("enter")
        assert editor.text == "select orde\n" and not popup.display
        # Moving the cursor away (a click, an arrow) closes the list; completing mid-word replaces the word.
        editor.text = "select coun(*) from gold.daily_revenue"
        editor.cursor_location = (0, len("select cou"))
        await pilot.press("n")
        await wait_for(pilot, lambda: popup.display)
        editor.cursor_location = (0, 1)
        await pilot.pause(0.1)
        assert not popup.display
        editor.cursor_location = (0, len("select co"))
        await pilot.press("u")
        await wait_for(pilot, lambda: popup.display)
        first = popup.candidates[0].name
        await pilot.press("tab")
        assert editor.text == f"select {first}(*) from gold.daily_revenue"

        # A bare word: columns of the statement's tables first, then keywords and functions.
        editor.text = " from gold.daily_revenue"
        editor.cursor_location = (0, 0)
        await pilot.press("s", "u")
        await wait_for(pilot, lambda: popup.display)
        kinds = {c.name: c.kind for c in popup.candidates}
        assert kinds.get("sum") == "function" and kinds.get("summarize") == "keyword"
        await pilot.press("escape")
        assert not popup.display and editor.text == "su from gold.daily_revenue"
        await pilot.press("down")  # with the list closed, keys move the cursor as usual
        assert editor.cursor_location == (0, len(editor.text))

        # ctrl+space asks for completion with nothing typed yet: the statement's columns come first.
        editor.text = "select  from silver.orders"
        editor.cursor_location = (0, len("select "))
        await pilot.press("ctrl+space")
        await wait_for(pilot, lambda: popup.display)
        assert popup.candidates[0].kind == "column" and popup.candidates[0].detail.endswith("silver.orders")
        second = popup.candidates[1].name
        await pilot.press("down", "tab")
        assert editor.text == f"select {second} from silver.orders"


async def test_the_table_screen_diffs_two_versions(ws: Path) -> None:
    from textual.widgets import DataTable as Grid

    from rat_tui.screens.table import TableScreen

    root = ws
    write(root / "landing" / "things" / "a.csv", "id,name\n1,one\n2,two\n")
    assert run_rat("run", "-w", str(root)).returncode == 0
    write(root / "landing" / "things" / "b.csv", "id,name\n3,three\n4,four\n5,five\n")
    assert run_rat("run", "-w", str(root)).returncode == 0
    app = RatApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(TableScreen(app.workspace, "bronze.things"))
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.loaded))
        versions = screen.query_one("#versions-grid", Grid)
        assert versions.row_count == 2
        versions.focus()
        versions.move_cursor(row=0)  # newest first: version 1
        await pilot.press("d")
        await wait_for(pilot, lambda: screen.diff is not None)
        assert (screen.diff.from_version, screen.diff.to_version) == (0, 1)
        assert (screen.diff.added, screen.diff.removed) == (3, 0)
        assert {r["name"] for r in screen.diff.rows} == {"three", "four", "five"}
        assert "3 added, 0 removed" in str(screen.query_one("#diff-title").render())
        await wait_for(pilot, lambda: bool(screen.query("#diff-grid")))
        # Mark version 1, select version 0: the same pair, the other way round is put in order.
        await pilot.press("m")
        versions.move_cursor(row=1)
        screen.diff = None
        await pilot.press("d")
        await wait_for(pilot, lambda: screen.diff is not None)
        assert (screen.diff.from_version, screen.diff.to_version, screen.diff.added) == (0, 1, 3)


async def test_a_long_build_shows_progress_and_elapsed_time(ws: Path) -> None:
    from rat_tui.widgets.pipeline import PipelinePanel, RunProgress

    root = ws
    write(root / "landing" / "t.csv", "id\n1\n2\n")
    assert run_rat("run", "-w", str(root)).returncode == 0
    app = RatApp(root, watch=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.mode == "watching")
        bar, panel = app.query_one(RunProgress), app.query_one(PipelinePanel)
        seen: dict[str, str] = {}

        def running() -> bool:
            if "silver.slow" in panel.rows:
                seen["time"] = str(panel.get_cell("silver.slow", "time"))
            if bar.display:
                seen["label"] = str(bar.query_one("Label").render())
            return seen.get("time", "").startswith("1.") and "label" in seen

        # A model that takes about 2.5 s (a real build; it sleeps inside the model).
        write(
            root / "models" / "silver" / "slow.py",
            'import time\n\ndef model(ctx):\n    time.sleep(2.5)\n    return ctx.table("bronze.t").collect()\n',
        )
        await wait_for(pilot, running, timeout=30)
        assert "building silver.slow" in seen["label"] and "of 1 models" in seen["label"]
        await wait_for(pilot, lambda: tree_state(app, "silver.slow") == "ok")
        await wait_for(pilot, lambda: not bar.display)
        assert panel.state_of("silver.slow") == "ok" and panel.get_cell("silver.slow", "state") == "✓ ok"


async def test_the_command_palette_reaches_every_action(demo: Path) -> None:
    from textual.command import CommandPalette

    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {t for t, _, _ in RatApp.PALETTE} <= titles
        for _, action, _ in RatApp.PALETTE:
            owner, _, name = action.rpartition(".")
            target = app if owner == "app" else app.workbench
            assert callable(getattr(target, f"action_{name}", None)), action
        # Through the palette itself: type a command's name, enter runs it.
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"query history")
        await pilot.pause(0.5)
        await pilot.press("enter")
        from rat_tui.screens.history import HistoryScreen

        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def test_escape_cancels_a_running_query(demo: Path) -> None:
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        results = app.query_one(ResultsView)
        # Minutes of work for DuckDB on this machine: only an interrupt ends it in time.
        app.query_one(SqlEditor).text = "select sum(hash(range)) from range(100000000000)"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.workbench.query_running)
        await pilot.pause(0.3)
        started = time.monotonic()
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in str(results.title.render()), timeout=10)
        assert time.monotonic() - started < 5
        assert "error" not in str(results.title.render()).lower() and not results.error_text
        app.query_one(SqlEditor).text = "select 1 as still_works"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: results.rows == 1)


def test_table_ages_are_short() -> None:
    from datetime import UTC, datetime

    from rat_tui.widgets.lake_tree import age

    built = "2026-01-01T12:00:00.000+00:00"
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    assert [age(built, at + s) for s in (5, 300, 7200, 3 * 86400)] == ["5s", "5m", "2h", "3d"]
    assert age(None, at) == "" and age("not a time", at) == ""


async def test_the_theme_follows_textual_and_is_remembered(demo: Path) -> None:
    (demo / ".rat" / "workbench.json").unlink(missing_ok=True)
    app = RatApp(demo, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme != "textual-light"
        app.theme = "textual-light"
        await pilot.pause(0.2)
        app.query_one(SqlEditor).text = "select 1 as light"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: app.query_one(ResultsView).rows == 1)
    again = RatApp(demo, watch=False)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        assert again.theme == "textual-light"
        again.theme = "textual-dark"
    (demo / ".rat" / "workbench.json").unlink(missing_ok=True)


async def test_a_newer_query_supersedes_one_still_counting_and_escape_stops_a_count(demo: Path) -> None:
    from dataclasses import replace

    app = RatApp(demo, watch=False)
    app.workspace.settings = replace(app.workspace.settings, fetch_limit=1000)
    async with app.run_test(size=(120, 40)) as pilot:
        results, editor = app.query_one(ResultsView), app.query_one(SqlEditor)
        slow = "select md5(range::varchar) as m from range(300000000)"  # minutes to count whole
        editor.text = slow
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: results.rows == 1000 and "counting" in str(results.title.render()))
        editor.text = "select 42 as x"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: results.rows == 1 and results.total == 1)
        await pilot.pause(1.0)  # the first query's worker ends; nothing of it may reach the grid
        assert str(results.title.render()).startswith("1 row ") and results.total == 1
        await wait_for(pilot, lambda: not app.workbench.query_running)
        # escape while counting: the rows shown stay, the title says the count was cancelled
        editor.text = slow
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: results.rows == 1000 and "counting" in str(results.title.render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "not counted" in str(results.title.render()))
        assert results.rows == 1000 and "error" not in str(results.title.render())
        await pilot.press("ctrl+j")  # the editor still runs queries
        await wait_for(pilot, lambda: "counting" in str(results.title.render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.workbench.query_running)


def test_histograms_skip_nan_infinity_and_constants() -> None:
    import duckdb

    from rat_tui.engine.profile import histogram

    con = duckdb.connect()
    con.execute(
        "create table t as select case when range % 7 = 0 then 'nan'::double when range % 11 = 0 then 'inf'::double"
        " else range end as d, 5 as k, timestamp '2024-01-01' + to_minutes(range::bigint) as ts from range(1000)"
    )
    d = histogram(con, "t", "d", "DOUBLE", 1000)
    assert len(d) == 10 and sum(n for _, n in d) == len([i for i in range(1000) if i % 7 and i % 11])
    assert histogram(con, "t", "k", "INTEGER", 1000) == []  # one value
    ts = histogram(con, "t", "ts", "TIMESTAMP", 1000)
    assert ts[0][0] == "01-01 00:00 – 01-01 01:39"  # under two days: hours and minutes


async def test_a_viewer_workbench_follows_what_rat_watch_commits(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process writes: the workbench is a viewer, and the writer's commits reach it as
    # TableChanged events (the Follower), which reload the lake tree.
    from rat_tui.engine import events as ev
    from rat_tui.screens import workbench_events

    write(ws / "landing" / "orders.csv", "id,amount\n1,10\n")
    write(ws / "models" / "silver" / "orders.sql", "select id, amount from bronze.orders")
    proc = subprocess.Popen([RAT, "watch", "-w", str(ws)], stderr=subprocess.PIPE, text=True)
    changed: list[str] = []
    follow = workbench_events.HANDLERS[ev.TableChanged]
    monkeypatch.setitem(
        workbench_events.HANDLERS, ev.TableChanged, lambda s, e: (changed.append(e.table), follow(s, e))
    )
    try:
        lock = ws / ".rat" / "lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and lock.read_text() == f"{proc.pid} watch") and time.monotonic() < deadline:
            time.sleep(0.05)
        app = RatApp(ws, watch=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.mode.startswith("viewer") and f"pid {proc.pid}" in app.mode)
            write(ws / "landing" / "customers.csv", "id,name\n1,Ann\n")
            await wait_for(pilot, lambda: "bronze.customers" in changed)
            await wait_for(pilot, lambda: "bronze.customers" in app.query_one(LakeTree).tables)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
