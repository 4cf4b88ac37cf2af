"""`rat rollback` and `rat vacuum` while the engine writes: handed to the real `rat watch` (or the
workbench) holding the writer lock, as `rat run` is; messages that name the writer say what it is;
short table names; and the requests table of a state.sqlite made by an older rat."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RAT, run_rat, start_watch, stop_watch, wait_for, wait_until, write
from deltalake import DeltaTable

from rat_tui.engine.errors import LockedError
from rat_tui.engine.workspace import Workspace, WriterLock

ORDERS_SQL = (
    '/* rat\n[checks]\nunique = ["id"]\n*/\nselect id, status, amount from bronze.orders '
    "qualify row_number() over (partition by id order by _batch_id desc) = 1"
)
# The requests table as rat made it before requests had a kind.
OLD_REQUESTS = """
CREATE TABLE requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_at TEXT NOT NULL,
    pid INTEGER,
    selectors TEXT NOT NULL,
    full_refresh INTEGER NOT NULL,
    status TEXT NOT NULL,
    run_id TEXT,
    finished_at TEXT,
    message TEXT
);
INSERT INTO requests (requested_at, pid, selectors, full_refresh, status, run_id, finished_at)
VALUES ('2024-01-01T00:00:00.000+00:00', 1, '[]', 0, 'ok', 'r1', '2024-01-01T00:00:01.000+00:00');
"""
# A process holding the writer lock in a role it names, serving nothing.
HOLDER = """
import sys, time
from pathlib import Path
from rat_tui.engine.workspace import Workspace, WriterLock
with WriterLock(Workspace(Path(sys.argv[1])), sys.argv[2]):
    print("held", flush=True)
    time.sleep(600)
"""
OPENER = (
    "import sys\nfrom pathlib import Path\nfrom rat_tui.engine.state import State\nState(Path(sys.argv[1])).close()"
)


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    proc = run_rat(*args)
    assert proc.returncode == 0, proc.stderr
    return proc


def csv(root: Path, sql: str) -> list[str]:
    return ok("query", "-w", str(root), sql, "--format", "csv").stdout.split()


@pytest.fixture
def shop(ws: Path) -> Path:
    """silver.orders at version 1 (a full rebuild of version 0 with new rows), built by `rat run`."""
    write(ws / "landing" / "orders" / "1.csv", "id,status,amount\n1,new,10\n2,new,20\n3,paid,30\n")
    write(ws / "models" / "silver" / "orders.sql", ORDERS_SQL)
    ok("run", "-w", str(ws))
    write(ws / "landing" / "orders" / "2.csv", "id,status,amount\n2,paid,20\n4,new,40\n")
    ok("run", "-w", str(ws))
    return ws


@pytest.fixture
def watching(shop: Path) -> Iterator[subprocess.Popen[str]]:
    proc = start_watch(shop)
    yield proc
    stop_watch(proc)


def idle(root: Path) -> bool:
    """No run under way and no request waiting."""
    db = sqlite3.connect(root / ".rat" / "state.sqlite", timeout=30)
    try:
        busy = db.execute("select count(*) from runs where status = 'running'").fetchone()[0]
        busy += db.execute("select count(*) from requests where status in ('pending', 'running')").fetchone()[0]
        return busy == 0
    finally:
        db.close()


def lock_free(root: Path) -> bool:
    try:
        with WriterLock(Workspace(root)):
            return True
    except LockedError:
        return False


def test_rollback_while_rat_watch_runs_is_done_by_the_watcher(shop: Path, watching: subprocess.Popen[str]) -> None:
    v0 = DeltaTable(str(shop / "lake" / "silver" / "orders"), version=0).to_pyarrow_table()
    rows = sorted(zip(v0["id"].to_pylist(), v0["status"].to_pylist(), strict=True))
    want = ["id,status"] + [f"{i},{s}" for i, s in rows]
    assert csv(shop, "select id, status from silver.orders order by id") != want
    proc = run_rat("rollback", "-w", str(shop), "silver.orders", "0")
    assert proc.returncode == 0, proc.stderr
    assert f"rat watch (pid {watching.pid}) is writing to this workspace; asked it to do this rollback" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "rat: silver.orders is now version 2, with the content of version 0"
    assert csv(shop, "select id, status from silver.orders order by id") == want
    wait_until(lambda: idle(shop), what="the watcher's run after the rollback")
    assert csv(shop, "select id, status from silver.orders order by id") == want  # it stays rolled back
    versions = json.loads(ok("history", "-w", str(shop), "silver.orders", "--json").stdout)
    assert versions[0]["operation"] == "rollback to 0" and versions[0]["version"] == 2
    assert watching.poll() is None


def test_a_failing_rollback_through_the_watcher_exits_1_with_its_error(
    shop: Path, watching: subprocess.Popen[str]
) -> None:
    proc = run_rat("rollback", "-w", str(shop), "silver.orders", "9")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "asked it to do this rollback" in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last == "rat: error: silver.orders has no version 9; `rat history silver.orders` lists them (0 to 1)"
    assert watching.poll() is None  # the watcher goes on, and does the next one
    assert "now version 2" in ok("rollback", "-w", str(shop), "silver.orders", "0").stderr


def test_vacuum_while_rat_watch_runs_reports_what_the_watcher_deleted(
    shop: Path, watching: subprocess.Popen[str]
) -> None:
    table = shop / "lake" / "silver" / "orders"
    before = {f.name for f in table.glob("*.parquet")}
    proc = run_rat("vacuum", "-w", str(shop), "--retain", "0")
    assert proc.returncode == 0, proc.stderr
    gone = before - {f.name for f in table.glob("*.parquet")}
    assert len(gone) == 1  # the file only version 0 read
    assert f"rat watch (pid {watching.pid}) is writing to this workspace; asked it to do this vacuum" in proc.stderr
    assert "vacuumed silver.orders: 1 file deleted" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "rat: vacuum done: 1 file deleted from 1 table"
    again = run_rat("vacuum", "-w", str(shop), "--retain", "0")
    assert again.returncode == 0 and again.stderr.splitlines()[-1] == "rat: vacuum: nothing to delete", again.stderr


def test_a_second_rat_watch_names_the_first_and_how_to_stop_it(shop: Path, watching: subprocess.Popen[str]) -> None:
    second = run_rat("watch", "-w", str(shop), timeout=60)
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert f"rat watch (pid {watching.pid}) is writing to this workspace" in second.stderr
    assert f"kill {watching.pid}" in second.stderr and "wait for it" not in second.stderr


def test_the_workbench_holding_the_lock_is_named_so(shop: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(shop), "workbench"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        watch = run_rat("watch", "-w", str(shop), timeout=60)
        assert watch.returncode == 1
        assert f"the workbench (pid {holder.pid}) is writing to this workspace" in watch.stderr
        assert "quit the workbench" in watch.stderr and "wait for it" not in watch.stderr
        # A rollback is handed to it; this holder serves nothing, so it waits until the holder is gone.
        rollback = [RAT, "rollback", "-w", str(shop), "silver.orders", "0"]
        waiting = subprocess.Popen(rollback, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        assert waiting.poll() is None
        holder.kill()
        holder.wait()
        assert waiting.wait(timeout=60) == 1
        err = waiting.stderr.read() if waiting.stderr else ""
        assert f"the workbench (pid {holder.pid}) is writing to this workspace; asked it to do this rollback" in err
        assert f"the workbench (pid {holder.pid}) stopped before doing the rollback; run `rat rollback` again" in err
    finally:
        holder.kill()
        holder.wait()


async def test_the_workbench_does_a_rollback_handed_to_it(shop: Path) -> None:
    from rat_tui.app import RatApp

    app = RatApp(shop, watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.mode == "watching")
        assert (shop / ".rat" / "lock").read_text() == f"{os.getpid()} workbench"
        proc = await asyncio.to_thread(run_rat, "rollback", "-w", str(shop), "silver.orders", "0")
        assert proc.returncode == 0, proc.stderr
        assert f"the workbench (pid {os.getpid()}) is writing to this workspace" in proc.stderr
        assert "silver.orders is now version 2" in proc.stderr
        run = await asyncio.to_thread(run_rat, "run", "-w", str(shop))
        assert run.returncode == 0 and "the workbench's run" in run.stderr, run.stderr
        await wait_for(pilot, lambda: idle(shop))
    # The engine thread lets go of the lock once it has stopped: later tests get a quiet process.
    await asyncio.to_thread(wait_until, lambda: lock_free(shop), 30.0, "the workbench's engine to stop")


def test_short_table_names(ws: Path) -> None:
    write(ws / "landing" / "orders.csv", "id,amount\n1,10\n")
    ok("run", "-w", str(ws))
    write(ws / "landing" / "orders" / "more.csv", "id,amount\n2,20\n")
    ok("run", "-w", str(ws))
    full = ok("history", "-w", str(ws), "bronze.orders", "--json").stdout
    assert ok("history", "-w", str(ws), "orders", "--json").stdout == full
    assert ok("history", "-w", str(ws), " Orders ").stdout == ok("history", "-w", str(ws), "bronze.orders").stdout
    assert "bronze.orders version 0 -> 1" in ok("diff", "-w", str(ws), "orders").stdout
    rolled = ok("rollback", "-w", str(ws), "orders", "0").stderr
    assert "bronze.orders is now version 2, with the content of version 0" in rolled
    write(ws / "models" / "silver" / "orders.sql", "select * from bronze.orders")
    ok("run", "-w", str(ws))
    for command in (("history", "orders"), ("diff", "orders"), ("rollback", "orders", "0")):
        proc = run_rat(command[0], "-w", str(ws), *command[1:])
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.strip() == "rat: error: `orders` is ambiguous: bronze.orders, silver.orders; name the layer"
    typo = run_rat("history", "-w", str(ws), "ordres")
    assert typo.returncode == 1 and len(typo.stderr.splitlines()) == 1
    assert "table `ordres` does not exist; did you mean bronze.orders, silver.orders?" in typo.stderr
    assert "`rat status` lists the tables" in typo.stderr
    nothing = run_rat("history", "-w", str(ws), "zzz")
    assert nothing.stderr.strip() == "rat: error: table `zzz` does not exist; `rat status` lists the tables"


def test_an_older_state_database_gets_the_new_request_columns(shop: Path) -> None:
    """A state.sqlite whose requests table an older rat made: the columns are added on open (by
    four processes at once), the old rows read as runs, and a rollback is handed over."""
    db_path = shop / ".rat" / "state.sqlite"
    db = sqlite3.connect(db_path)
    db.executescript("DROP TABLE requests;" + OLD_REQUESTS)
    db.close()
    procs = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(db_path)], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    db = sqlite3.connect(db_path)
    try:
        columns = [r[1] for r in db.execute("pragma table_info(requests)")]
        assert columns[-3:] == ["kind", "args", "result"]
        assert db.execute("select kind, status from requests").fetchall() == [("run", "ok")]
    finally:
        db.close()
    watch = start_watch(shop)
    try:
        proc = run_rat("rollback", "-w", str(shop), "silver.orders", "0")
        assert proc.returncode == 0 and "now version 2" in proc.stderr, proc.stderr
    finally:
        watch.terminate()
        assert watch.wait(timeout=60) == 0
