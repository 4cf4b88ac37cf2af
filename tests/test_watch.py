"""Watch mode: settled files only, only what a change affects, one writer. (Bursts of 5,000 files, slow
writers and renames under a real `rat watch` process: tests/reliability/test_landing.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import RAT, query, run_rat, start_watch, wait_until, write
from deltalake import DeltaTable

from rat_tui.engine import Engine
from rat_tui.engine.events import Event, ModelFinished, TableIngested
from rat_tui.engine.watch import Watcher


class Running:
    """A Watcher on a thread, with the events it emitted."""

    def __init__(self, root: Path) -> None:
        self.engine = Engine.open(root)
        self.events: list[Event] = []
        self.engine.events.subscribe(self.events.append)
        self.watcher = Watcher(self.engine)
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.watcher.run()
        except BaseException as exc:
            self.error.append(exc)

    def built(self) -> list[str]:
        return [e.model for e in self.events if isinstance(e, ModelFinished) and e.status == "ok"]

    def ingested(self) -> list[TableIngested]:
        return [e for e in self.events if isinstance(e, TableIngested)]

    def idle_after(self, runs: int) -> None:
        wait_until(lambda: self.watcher.runs >= runs)


@pytest.fixture
def watching(ws: Path) -> Iterator[Callable[[], Running]]:
    started: list[Running] = []

    def start() -> Running:
        r = Running(ws)
        r.thread.start()
        started.append(r)
        wait_until(lambda: r.watcher.runs >= 1 or r.error)
        assert not r.error, r.error
        return r

    yield start
    for r in started:
        r.watcher.stop()
        r.thread.join(timeout=30)
        r.engine.close()


def shop(ws: Path) -> None:
    write(ws / "landing" / "orders" / "0.csv", "id,amount\n1,10\n")
    write(ws / "landing" / "customers.csv", "id,name\n1,Ann\n")
    write(ws / "models" / "silver" / "orders.sql", "select id, amount from bronze.orders")
    write(ws / "models" / "silver" / "customers.sql", "select * from bronze.customers")
    write(ws / "models" / "gold" / "total.sql", "select sum(amount) as total, count(*) as n from silver.orders")
    old = time.time() - 60  # dropped a minute ago: settled
    for f in (ws / "landing").rglob("*.csv"):
        os.utime(f, (old, old))


def test_a_drop_rebuilds_only_what_it_affects(ws: Path, watching) -> None:
    shop(ws)
    w = watching()
    assert set(w.built()) == {"silver.orders", "silver.customers", "gold.total"}
    w.events.clear()
    runs = w.watcher.runs
    write(ws / "landing" / "orders" / "1.csv", "id,amount\n2,5\n")
    w.idle_after(runs + 1)
    assert w.built() == ["silver.orders", "gold.total"]
    assert [(e.table, e.files) for e in w.ingested()] == [("bronze.orders", 1)]
    assert query(w.engine, "select total, n from gold.total") == [(15, 2)]


def test_a_model_saved_with_an_error_keeps_its_table_then_the_fix_rebuilds(ws: Path, watching) -> None:
    shop(ws)
    w = watching()
    w.events.clear()
    runs = w.watcher.runs
    write(ws / "models" / "gold" / "total.sql", "select sum(amount) as total, count(*) as n from silver.orders where")
    w.idle_after(runs + 1)
    failed = [e for e in w.events if isinstance(e, ModelFinished) and e.status == "failed"]
    assert [e.model for e in failed] == ["gold.total"] and "models/gold/total.sql" in (failed[0].error or "")
    assert query(w.engine, "select total from gold.total") == [(10,)]  # the last good version
    w.events.clear()
    runs = w.watcher.runs
    write(ws / "models" / "gold" / "total.sql", "select sum(amount) * 2 as total, count(*) as n from silver.orders")
    w.idle_after(runs + 1)
    assert w.built() == ["gold.total"]
    assert query(w.engine, "select total from gold.total") == [(20,)]


def test_a_deleted_model_stops_being_built_and_its_table_stays(ws: Path, watching) -> None:
    shop(ws)
    w = watching()
    runs = w.watcher.runs
    (ws / "models" / "silver" / "customers.sql").unlink()
    w.idle_after(runs + 1)
    runs = w.watcher.runs
    write(ws / "landing" / "customers2.csv", "id,name\n2,Bob\n")
    write(ws / "landing" / "customers" / "more.csv", "id,name\n3,Cy\n")
    w.idle_after(runs + 1)
    assert "silver.customers" not in w.built()[3:]
    assert query(w.engine, "select count(*) from silver.customers") == [(1,)]


def test_a_slow_writer_is_ingested_once_and_whole(ws: Path, watching) -> None:
    shop(ws)
    w = watching()
    w.events.clear()
    runs = w.watcher.runs
    target = ws / "landing" / "orders" / "slow.csv"
    with open(target, "w") as fh:
        fh.write("id,amount\n")
        for i in range(30):  # 3 s of writing, in 30 pieces
            fh.write(f"{100 + i},1\n")
            fh.flush()
            time.sleep(0.1)
    w.idle_after(runs + 1)
    time.sleep(1.0)
    assert [e.files for e in w.ingested() if e.table == "bronze.orders"] == [1]
    assert query(w.engine, "select count(*) from bronze.orders where id >= 100") == [(30,)]


def test_names_being_written_wait_until_renamed(ws: Path, watching) -> None:
    shop(ws)
    w = watching()
    runs = w.watcher.runs
    part = write(ws / "landing" / "orders" / "big.csv.part", "id,amount\n7,7\n")
    write(ws / "landing" / "orders" / ".hidden.csv", "id,amount\n8,8\n")
    time.sleep(1.5)
    assert w.watcher.runs == runs  # nothing to do
    part.rename(ws / "landing" / "orders" / "big.csv")
    w.idle_after(runs + 1)
    assert query(w.engine, "select id from bronze.orders order by id") == [(1,), (7,)]


def test_an_invalid_rat_toml_is_reported_and_the_old_settings_stay(ws: Path, watching) -> None:
    from rat_tui.engine.events import SettingsError

    shop(ws)
    w = watching()
    memory = w.engine.ws.settings.memory_limit
    (ws / "rat.toml").write_text('name = "x"\nmemory_limit = [\n')
    wait_until(lambda: any(isinstance(e, SettingsError) for e in w.events))
    message = next(e.message for e in w.events if isinstance(e, SettingsError))
    assert "rat.toml" in message and "previous settings stay" in message
    assert w.engine.ws.settings.memory_limit == memory
    (ws / "rat.toml").write_text('name = "renamed"\n')
    wait_until(lambda: w.engine.ws.settings.name == "renamed")


def test_one_writer_a_second_watch_names_the_first_and_a_stale_lock_is_taken_over(ws: Path) -> None:
    shop(ws)
    first = start_watch(ws)
    try:
        second = run_rat("watch", "-w", str(ws), timeout=30)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"pid {first.pid}" in second.stderr and "rat watch" in second.stderr
    finally:
        first.kill()  # kill -9: the lock file stays behind, naming a dead process
        first.wait()
    third = start_watch(ws)  # takes the lock over: start_watch waits until the file names it
    third.terminate()
    assert third.wait(timeout=30) == 0


def test_rat_run_hands_its_run_to_the_watcher(ws: Path) -> None:
    shop(ws)
    proc = start_watch(ws)
    try:
        wait_until(lambda: (ws / "lake" / "gold" / "total").exists())
        time.sleep(0.5)
        done = run_rat("run", "-w", str(ws), "gold", "--full-refresh", timeout=60)
        assert done.returncode == 0, done.stderr
        assert "asked it to do this run" in done.stderr and "the watcher's run" in done.stderr
        assert DeltaTable(str(ws / "lake" / "gold" / "total")).history(1)[0]["rat.operation"] == "build"
        assert len(DeltaTable(str(ws / "lake" / "gold" / "total")).history()) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_sigterm_mid_build_exits_cleanly_and_leaves_every_table_whole(ws: Path) -> None:
    shop(ws)
    slow = "select i, md5(i::varchar) as h from range(3000000) t(i) order by h"
    write(ws / "models" / "gold" / "slow.sql", slow)
    proc = start_watch(ws)
    wait_until(lambda: (ws / "lake" / "gold" / "slow").exists(), timeout=120)
    write(ws / "models" / "gold" / "slow.sql", slow + " desc")
    time.sleep(0.8)  # the rebuild of gold.slow is under way
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    err = proc.stderr.read() if proc.stderr else ""
    assert "stopped (SIGTERM)" in err and "Traceback" not in err
    for table in ("bronze.orders", "silver.orders", "gold.total", "gold.slow"):
        dt = DeltaTable(str(ws / "lake" / table.replace(".", "/")))
        assert dt.to_pyarrow_dataset().count_rows() >= 1  # every file of the current version reads
    assert (
        run_rat("query", "-w", str(ws), "select count(*) from gold.slow", "--format", "csv").stdout.split()[1]
        == "3000000"
    )


def test_a_viewer_follows_the_writers_commits_and_runs_and_can_ask_it_to_run(ws: Path) -> None:
    from rat_tui.engine.events import RunSeen, TableChanged
    from rat_tui.engine.watch import Follower

    shop(ws)
    proc = start_watch(ws)
    viewer = Engine.open(ws)
    try:
        wait_until(lambda: (ws / "lake" / "gold" / "total").exists())
        time.sleep(0.5)
        follower = Follower(viewer)
        assert follower.poll() == []
        write(ws / "landing" / "orders" / "2.csv", "id,amount\n5,50\n")
        seen: list[Event] = []
        wait_until(
            lambda: (
                seen.extend(follower.poll())
                or any(isinstance(e, TableChanged) and e.table == "gold.total" for e in seen)
            )
        )
        assert {e.table for e in seen if isinstance(e, TableChanged)} == {
            "bronze.orders",
            "silver.orders",
            "gold.total",
        }
        wait_until(
            lambda: seen.extend(follower.poll()) or any(isinstance(e, RunSeen) and e.status == "ok" for e in seen)
        )
        request = follower.request_run(["gold.total"], full_refresh=True)
        wait_until(lambda: (follower.request(request) or {}).get("status") == "ok")
        assert follower.request(request)["run_id"]
        assert query(viewer, "select total from gold.total") == [(60,)]
    finally:
        viewer.close()
        proc.terminate()
        proc.wait(timeout=30)


def test_watch_json_lines_and_polling_mode(ws: Path) -> None:
    import json

    shop(ws)
    (ws / "rat.toml").write_text('name = "poll"\n[watch]\npolling = true\n')
    proc = subprocess.Popen([RAT, "watch", "-w", str(ws), "--json"], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert first["event"] == "WatchStarted" and first["polling"] is True and first["time"]
        wait_until(lambda: (ws / "lake" / "gold" / "total").exists())
        time.sleep(0.5)
        write(ws / "landing" / "orders" / "3.csv", "id,amount\n9,1\n")
        lines = []
        while not any(r["event"] == "RunFinished" and r["files_ingested"] == 1 for r in lines):
            lines.append(json.loads(proc.stdout.readline()))  # type: ignore[union-attr]
        assert any(r["event"] == "TableIngested" and r["table"] == "bronze.orders" and r["rows"] == 1 for r in lines)
        assert any(r["event"] == "ModelFinished" and r["model"] == "gold.total" and r["seconds"] >= 0 for r in lines)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_rat_run_reports_a_watcher_that_died_before_doing_its_run(ws: Path) -> None:
    shop(ws)
    watcher = start_watch(ws)
    wait_until(lambda: (ws / "lake" / "gold" / "total").exists())
    watcher.send_signal(signal.SIGSTOP)  # alive and holding the lock, but doing nothing
    run = subprocess.Popen([RAT, "run", "-w", str(ws)], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # the request is in the state database, pending
        watcher.kill()
        watcher.wait(timeout=30)
        assert run.wait(timeout=30) == 1
        err = run.stderr.read() if run.stderr else ""
        assert f"rat watch (pid {watcher.pid}) stopped before doing the run" in err and "Traceback" not in err
    finally:
        if run.poll() is None:
            run.kill()
