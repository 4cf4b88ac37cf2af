"""The Python API (`rat_tui.open`): reading with DuckDB and polars, time travel, typed table infos,
history and status, runs and pulls done here or handed to a real `rat watch`, and reads that see
whole versions while the watcher commits."""

from __future__ import annotations

import pydoc
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import tomli_w
from conftest import run_rat, start_watch, stop_watch, write
from fake_api import FakeApi, Reply

import rat_tui


@pytest.fixture
def shop(ws: Path) -> Path:
    write(ws / "landing" / "orders" / "1.csv", "id,amount\n1,10\n2,20\n")
    write(ws / "models" / "silver" / "orders.sql", "select id, amount * 2 as doubled from bronze.orders")
    write(
        ws / "models" / "gold" / "total.sql",
        '/* rat\nmaterialized = "view"\n*/\nselect sum(doubled) as total from silver.orders',
    )
    assert run_rat("run", "-w", str(ws)).returncode == 0
    return ws


@pytest.fixture
def watching(shop: Path) -> Iterator[subprocess.Popen[str]]:
    proc = start_watch(shop)
    yield proc
    stop_watch(proc)


def test_open_finds_the_nearest_workspace_upward_and_says_when_there_is_none(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shop / "models" / "silver")
    with rat_tui.open() as lake:
        assert lake.path == shop
    assert rat_tui.open(shop).path == shop
    monkeypatch.chdir(tmp_path)
    with pytest.raises(rat_tui.RatError, match=r"no rat.toml in .* or any folder above it"):
        rat_tui.open()
    with pytest.raises(rat_tui.RatError, match="not a rat workspace"):
        rat_tui.open(tmp_path)
    shown = pydoc.render_doc(rat_tui.open)  # what help(rat_tui.open) prints
    assert all(word in shown for word in ("lake.sql", "lake.table", "lake.run", "time travel", "RatError"))


def test_sql_returns_a_duckdb_relation_and_sees_each_new_version(shop: Path) -> None:
    lake = rat_tui.open(shop)
    relation = lake.sql("select id, doubled from silver.orders order by id")
    assert relation.fetchall() == [(1, 20), (2, 40)]
    assert relation.pl().equals(pl.DataFrame({"id": [1, 2], "doubled": [20, 40]}))
    assert isinstance(lake.sql("select * from silver.orders").arrow(), pa.Table | pa.RecordBatchReader)
    assert list(lake.sql("select * from gold.total").df()["total"]) == [60]  # a view model
    with pytest.raises(rat_tui.QueryError, match="nope"):
        lake.sql("select nope from silver.orders")

    write(shop / "landing" / "orders" / "2.csv", "id,amount\n3,30\n")
    assert run_rat("run", "-w", str(shop)).returncode == 0
    # The same Lake, without reopening: the next query reads the new versions.
    assert lake.sql("select count(*) from silver.orders").fetchall() == [(3,)]
    assert lake.sql("select total from gold.total").fetchall() == [(120,)]
    lake.close()


def test_table_is_a_lazyframe_with_time_travel(shop: Path) -> None:
    write(shop / "landing" / "orders" / "2.csv", "id,amount\n3,30\n")
    assert run_rat("run", "-w", str(shop)).returncode == 0
    lake = rat_tui.open(shop)
    frame = lake.table("silver.orders")
    assert isinstance(frame, pl.LazyFrame)
    assert frame.select(pl.col("doubled").sum()).collect().item() == 120
    assert lake.table("silver.orders", version=0).collect().height == 2  # time travel
    assert lake.table("bronze.orders", version=1).collect().height == 3  # bronze appends
    with pytest.raises(rat_tui.RatError, match=re.escape("ambiguous: bronze.orders, silver.orders")):
        lake.table("orders")
    with pytest.raises(rat_tui.RatError, match="has versions 0 to 1, not 7"):
        lake.table("silver.orders", version=7)
    assert lake.table("total").collect().item() == 120  # a view, by its short name
    with pytest.raises(rat_tui.RatError, match=re.escape("gold.total is a view: it has no versions")):
        lake.table("gold.total", version=0)


def test_tables_history_and_status_are_typed(shop: Path) -> None:
    lake = rat_tui.open(shop)
    tables = {t.name: t for t in lake.tables()}
    assert list(tables) == ["bronze.orders", "silver.orders", "gold.total"]
    orders = tables["silver.orders"]
    assert (orders.layer, orders.kind, orders.rows, orders.version) == ("silver", "table", 2, 0)
    assert orders.columns == (("id", "BIGINT"), ("doubled", "BIGINT"))  # DuckDB's names, as the workbench
    assert orders.path is not None and (orders.path / "_delta_log").is_dir()
    total = tables["gold.total"]
    assert (total.kind, total.rows, total.version, total.columns) == ("view", None, None, (("total", "HUGEINT"),))
    [version] = lake.history("silver.orders")
    assert (version.version, version.operation, version.rows) == (0, "build", 2)
    assert version.run is not None and version.timestamp.startswith("20")
    status = lake.status()
    assert {t.name: t.state for t in status.tables}["silver.orders"] == "ok"
    assert status.runs[0].status == "ok"


def test_run_and_pull_here_when_no_one_writes(shop: Path) -> None:
    api = FakeApi().start()
    try:
        api.route("/tickets", lambda request: Reply(200, [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]))
        with open(shop / "rat.toml", "a", encoding="utf-8") as fh:
            fh.write("\n" + tomli_w.dumps({"sources": {"tickets": {"type": "http", "url": f"{api.base}/tickets"}}}))
        lake = rat_tui.open(shop)
        write(shop / "landing" / "orders" / "2.csv", "id,amount\n3,30\n")
        result = lake.run("silver.orders")
        assert (result.status, result.ok, result.handed_to) == ("ok", True, None)
        assert result.report is not None and result.report.built == ["silver.orders"]
        pulled = lake.pull("tickets")
        assert pulled.ok and pulled.report is not None and pulled.report.pulled == {"tickets": 2}
        assert lake.sql("select count(*) from bronze.tickets").fetchall() == [(2,)]
        with pytest.raises(rat_tui.RatError, match=re.escape("no source named nope in rat.toml (sources: tickets)")):
            lake.pull("nope")
        write(shop / "models" / "silver" / "orders.sql", "select nope from bronze.orders")
        failed = lake.run()
        assert failed.status == "failed" and not failed.ok and "nope" in (failed.message or "")
    finally:
        api.stop()


def test_run_and_pull_are_handed_to_the_running_watcher(shop: Path) -> None:
    api = FakeApi().start()
    calls: list[int] = []

    def tickets(request: object) -> Reply:
        calls.append(len(calls) + 1)  # each pull answers a new ticket: new bytes, a new file
        return Reply(200, [{"id": len(calls), "title": "t"}])

    api.route("/tickets", tickets)
    with open(shop / "rat.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + tomli_w.dumps({"sources": {"tickets": {"type": "http", "url": f"{api.base}/tickets"}}}))
    watcher = start_watch(shop)
    try:
        lake = rat_tui.open(shop)
        before = lake.history("silver.orders")[0].version
        result = lake.run("silver.orders", full_refresh=True)
        assert result.status == "ok" and result.handed_to == f"rat watch (pid {watcher.pid})", result
        assert result.report is None and result.run_id
        assert lake.history("silver.orders")[0].version == before + 1
        assert (shop / ".rat" / "lock").read_text() == f"{watcher.pid} watch"  # the watcher still writes
        pulled = lake.pull("tickets")
        assert pulled.ok and pulled.handed_to == f"rat watch (pid {watcher.pid})", pulled
        # Reading took no lock: the watcher held it all along, and every pull so far is in bronze.
        assert lake.sql("select count(*) from bronze.tickets").fetchall() == [(len(calls),)]
        assert len(calls) >= 2  # its own first pull when it started, and ours
    finally:
        api.stop()
        stop_watch(watcher)


def test_reads_see_whole_versions_while_rat_watch_commits(shop: Path, watching: subprocess.Popen[str]) -> None:
    """Each dropped file holds 50 rows: a query that saw part of a commit would count a number
    that is not a multiple of 50 (plus the first run's 2 rows)."""
    lake = rat_tui.open(shop)
    files = 8
    stop = threading.Event()

    def drop() -> None:
        for n in range(files):
            rows = "".join(f"{1000 * (n + 1) + i},{i}\n" for i in range(50))
            write(shop / "landing" / "orders" / f"drop{n:02}.csv", "id,amount\n" + rows)
            stop.wait(0.7)  # past the watcher's settle time: one commit per file, mostly

    dropper = threading.Thread(target=drop)
    dropper.start()
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 120
    try:
        while True:
            bronze = lake.sql("select count(*) from bronze.orders").fetchall()[0][0]
            silver = lake.table("silver.orders").select(pl.len()).collect().item()
            seen.append((bronze, silver))
            if bronze == silver == 2 + 50 * files:
                break
            assert time.monotonic() < deadline, f"the watcher never caught up: {seen[-3:]}"
    finally:
        stop.set()
        dropper.join()
    assert all((b - 2) % 50 == 0 and (s - 2) % 50 == 0 for b, s in seen), seen
    assert [b for b, _ in seen] == sorted(b for b, _ in seen)  # never back to an older version
    assert len({b for b, _ in seen}) > 2  # it did read between commits


def test_the_readme_python_block_runs_on_the_demo(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The Python API", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(demo.parent)
    (demo.parent / "rat-demo").symlink_to(demo)
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)
    lake = scope["lake"]
    assert isinstance(lake, rat_tui.Lake) and scope["first"] is not None
    assert lake.sql("select count(*) from gold.daily_revenue").fetchall()[0][0] > 100
