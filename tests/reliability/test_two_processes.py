"""Two processes on one workspace: `rat watch` and `rat run` (and two of either) started at nearly the
same moment, in seeded orders and delays, on fresh workspaces.

Exactly one writes at a time (the runs recorded in `.rat/state.sqlite` never overlap); the other
hands its run to the writer and reports the outcome, or says in one line, with a non-zero exit, why
it cannot. Afterwards nothing is corrupt (every table reads whole; every landing file is in bronze
exactly once), no request is lost (every request row ended done, none pending or running), and no
process printed a traceback.

RAT_SOAK=1 runs ten times the trials of each order.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RAT, run_rat, write
from conftest import wait_until as _wait_until
from deltalake import DeltaTable

from rat_tui.engine import lake
from rat_tui.engine.workspace import Workspace, init_workspace

SOAK = os.environ.get("RAT_SOAK", "") not in ("", "0")
TRIALS = 10 if SOAK else 1  # seeded trials per order
ORDERS = ("run_first", "watch_first", "simultaneous")
LAUNCHER = """
import sys, time
import duckdb, deltalake, pyarrow, polars, watchdog.observers  # the imports done, the start is sharp
import rat_tui.engine.engine, rat_tui.engine.watch, rat_tui.engine.build, rat_tui.engine.ingest
from rat_tui.cli import main
at = float(sys.argv[1])
while time.time() < at:
    time.sleep(0.0005)
sys.exit(main(sys.argv[2:]))
"""


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    """conftest's, with a longer default: these trials start several processes at once."""
    _wait_until(predicate, timeout, what)


FILES = {"orders/a.csv": 40, "orders/b.csv": 30, "orders/c.csv": 20, "customers.csv": 10}


def rows_csv(prefix: str, n: int) -> str:
    return "id,amount\n" + "".join(f"{prefix}-{i},{i}\n" for i in range(n))


def make_ws(root: Path) -> Path:
    """A fresh workspace (no state database yet) with settled landing files and three models."""
    init_workspace(root)
    for rel, n in FILES.items():
        write(root / "landing" / rel, rows_csv(rel, n))
    old = time.time() - 60
    for f in (root / "landing").rglob("*.csv"):
        os.utime(f, (old, old))
    write(
        root / "models" / "silver" / "orders.sql",
        '/* rat\n[checks]\nunique = ["id"]\n*/\nselect * from bronze.orders\n',
    )
    write(root / "models" / "silver" / "customers.sql", "select * from bronze.customers\n")
    write(root / "models" / "gold" / "total.sql", "select count(*) as n, sum(amount) as total from silver.orders\n")
    return root


def drop(root: Path, rel: str, n: int) -> None:
    """A landing file moved into place whole, the safe way to drop one."""
    target = root / "landing" / rel
    tmp = target.with_name(target.name + ".part")
    write(tmp, rows_csv(rel, n))
    tmp.rename(target)


@dataclass
class Proc:
    """A real `rat` process with its stderr in a file."""

    args: tuple[str, ...]
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, root: Path, *args: str, at: float | None = None) -> Proc:
        """`rat ARGS -w ROOT`; with `at`, rat's own main() in a process that has made its imports
        and waits for that wall-clock moment, so several processes open the workspace together."""
        log = root.parent / f"{args[0]}-{time.monotonic_ns()}.log"
        argv = [*args, "-w", str(root)]
        command = [RAT, *argv] if at is None else [sys.executable, "-c", LAUNCHER, str(at), *argv]
        with open(log, "wb") as fh:
            popen = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=fh)
        return cls(args, popen, log)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def err(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 120) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> int:
        """SIGTERM, as systemd stops `rat watch`: it finishes what it does and exits 0."""
        self.popen.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def state_rows(root: Path, sql: str) -> list[dict]:
    db = sqlite3.connect(root / ".rat" / "state.sqlite", timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql)]
    finally:
        db.close()


def expected_bronze(root: Path) -> dict[str, dict[str, int]]:
    """bronze table -> landing file -> rows, for every file now in landing/."""
    out: dict[str, dict[str, int]] = {}
    for f in sorted((root / "landing").rglob("*.csv")):
        rel = f.relative_to(root / "landing").as_posix()
        table = "bronze." + (rel.split("/")[0] if "/" in rel else f.stem)
        out.setdefault(table, {})[rel] = len(f.read_text().splitlines()) - 1
    return out


def caught_up(root: Path) -> bool:
    """Every landing file is in bronze and gold.total counts them all, and no run is under way."""
    want = sum(expected_bronze(root).get("bronze.orders", {}).values())
    path = root / "lake" / "gold" / "total"
    if lake.latest_version(path) is None:
        return False
    (n,) = DeltaTable(str(path)).to_pyarrow_table().column("n").to_pylist()
    running = state_rows(root, "select 1 from runs where status = 'running'")
    pending = state_rows(root, "select 1 from requests where status in ('pending', 'running')")
    return n == want and not running and not pending


def assert_sound(root: Path, *procs: Proc) -> None:
    """Nothing corrupt, nothing lost, one writer at a time, no traceback."""
    for p in procs:
        assert "Traceback" not in p.err(), p.err()
    # Every table reads whole: all files of its current version, as many rows as its log says.
    ws = Workspace.find(root)
    for name in lake.list_tables(ws):
        dt = DeltaTable(str(ws.table_path(name)))
        assert dt.to_pyarrow_table().num_rows == lake.count_rows(dt), name
    # Every landing file is in bronze exactly once.
    for table, files in expected_bronze(root).items():
        data = DeltaTable(str(ws.table_path(table))).to_pyarrow_table()
        counts: dict[str, int] = {}
        for source in data.column("_source_file").to_pylist():
            counts[source] = counts.get(source, 0) + 1
        assert counts == files, table
    ids = DeltaTable(str(ws.table_path("silver.orders"))).to_pyarrow_table().column("id").to_pylist()
    assert len(ids) == len(set(ids)) == sum(expected_bronze(root)["bronze.orders"].values())
    # No request lost: each ended, and ended well (or failed because its watcher stopped first).
    requests = state_rows(root, "select id, status, message from requests")
    stopped = "the watcher stopped before doing it"
    assert all(r["status"] in ("ok", "noop") or r["message"] == stopped for r in requests), requests
    # One writer at a time: no two runs overlap.
    runs = state_rows(root, "select run_id, started_at, finished_at, status from runs order by started_at")
    assert all(r["finished_at"] and r["status"] in ("ok", "noop") for r in runs), runs
    for a, b in itertools.pairwise(runs):
        assert a["finished_at"] <= b["started_at"], (a, b)


def one_line_refusal(p: Proc, holder: Proc, what: str) -> None:
    """A process that could not write said so in one line naming the writer, with exit 1."""
    lines = [ln for ln in p.err().splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert f"{what} (pid {holder.pid}) is writing to this workspace" in lines[0], lines[0]


TRIAL_CASES = [(order, seed) for order in ORDERS for seed in range(TRIALS)]


@pytest.mark.parametrize(("order", "seed"), TRIAL_CASES, ids=[f"{o}-{s}" for o, s in TRIAL_CASES])
def test_watch_and_run_at_once(tmp_path: Path, order: str, seed: int) -> None:
    rng = random.Random(f"{order}-{seed}")
    root = make_ws(tmp_path / "ws")
    delay = 0.0 if order == "simultaneous" else rng.uniform(0.0, 0.6)
    extra_at = rng.uniform(0.1, 2.0)  # a file dropped while both are starting or working
    started = time.monotonic()
    if order == "watch_first":
        watch = Proc.start(root, "watch")
        time.sleep(delay)
        run = Proc.start(root, "run")
    else:
        run = Proc.start(root, "run")
        time.sleep(delay)
        watch = Proc.start(root, "watch")
    try:
        dropped = False
        while run.popen.poll() is None or not dropped:
            if not dropped and time.monotonic() - started >= extra_at:
                drop(root, f"orders/extra-{seed}.csv", 7)
                dropped = True
            assert time.monotonic() - started < 120, "rat run did not finish"
            time.sleep(0.02)
        assert run.wait() == 0, run.err()
        run_err = run.err()
        handed = "asked it to do this run" in run_err
        if handed:  # the watcher wrote: it did the run and `rat run` reported its outcome
            assert f"rat watch (pid {watch.pid}) is writing to this workspace" in run_err
            assert "the watcher's run" in run_err.splitlines()[-1]
        else:
            assert run_err.splitlines()[-1].removeprefix("rat: ").startswith(("run ", "nothing to do")), run_err
        lock = root / ".rat" / "lock"
        wait_until(
            lambda: watch.popen.poll() is not None or lock.read_text() == f"{watch.pid} watch",
            what="the watcher to take the lock or give way",
        )
        if watch.popen.poll() is None:
            wait_until(lambda: caught_up(root), what="the watcher to take every file in")
            assert watch.stop() == 0, watch.err()
            outcome = "watch wrote"
        else:  # the watcher found `rat run` writing and said so
            assert watch.wait() == 1, watch.err()
            assert not handed
            one_line_refusal(watch, run, "another rat run")
            after = run_rat("run", "-w", str(root))  # takes the file dropped meanwhile in
            assert after.returncode == 0, after.stderr
            outcome = "watch refused"
        assert_sound(root, run, watch)
        print(f"{order} seed {seed}: delay {delay:.2f}s, {outcome}, run {'handed over' if handed else 'wrote'}")
    finally:
        run.kill()
        watch.kill()


@pytest.mark.parametrize("seed", range(2 if not SOAK else 15))
def test_two_runs_at_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = make_ws(tmp_path / "ws")
    first = Proc.start(root, "run")
    time.sleep(rng.uniform(0.0, 0.4))
    second = Proc.start(root, "run")
    codes = (first.wait(), second.wait())
    assert 0 in codes, (first.err(), second.err())
    for p, other, code in ((first, second, codes[0]), (second, first, codes[1])):
        if code != 0:  # it found the other writing and said so
            assert code == 1
            one_line_refusal(p, other, "another rat run")
    assert_sound(root, first, second)
    again = run_rat("run", "-w", str(root))
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr


def test_a_run_while_a_long_run_writes_is_refused_naming_it(tmp_path: Path) -> None:
    root = make_ws(tmp_path / "ws")
    write(root / "models" / "gold" / "slow.sql", "select i, md5(i::varchar) as h from range(2000000) t(i) order by h\n")
    first = Proc.start(root, "run")
    lock = root / ".rat" / "lock"
    try:
        wait_until(lambda: lock.exists() and lock.read_text() == f"{first.pid} run", what="the first run's lock")
        second = Proc.start(root, "run")
        assert second.wait() == 1
        assert first.popen.poll() is None, "the first run was still writing"
        one_line_refusal(second, first, "another rat run")
        assert "wait for it to finish" in second.err()
        assert first.wait() == 0, first.err()
        assert_sound(root, first, second)
    finally:
        first.kill()


@pytest.mark.parametrize("seed", range(2 if not SOAK else 10))
def test_two_watches_at_once_one_is_refused_naming_the_other(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = make_ws(tmp_path / "ws")
    a = Proc.start(root, "watch")
    time.sleep(rng.uniform(0.0, 0.3))
    b = Proc.start(root, "watch")
    try:
        wait_until(lambda: a.popen.poll() is not None or b.popen.poll() is not None, what="one watcher to give way")
        loser, winner = (a, b) if a.popen.poll() is not None else (b, a)
        assert loser.wait() == 1
        one_line_refusal(loser, winner, "rat watch")
        wait_until(lambda: caught_up(root), what="the watcher to build")
        assert winner.popen.poll() is None
        assert winner.stop() == 0, winner.err()
        assert_sound(root, a, b)
    finally:
        a.kill()
        b.kill()


@pytest.mark.parametrize("seed", range(2 if not SOAK else 15))
def test_a_watch_and_three_runs_opening_a_fresh_workspace_at_the_same_instant(tmp_path: Path, seed: int) -> None:
    """No state database yet: all four create it and take the lock at once. Each writes, hands its
    run to the watcher, or refuses in one line; none fails on the state database."""
    root = make_ws(tmp_path / "ws")
    at = time.time() + 3.0  # time for every process to start and import
    watch = Proc.start(root, "watch", at=at)
    runs = [Proc.start(root, "run", at=at) for _ in range(3)]
    procs = [watch, *runs]
    try:
        for p in runs:
            code = p.wait()
            if code != 0:
                assert code == 1, p.err()
                others = [o for o in procs if o is not p]
                lines = [ln for ln in p.err().splitlines() if ln.strip()]
                assert len(lines) == 1 and any(f"(pid {o.pid}) is writing" in lines[0] for o in others), lines
        lock = root / ".rat" / "lock"
        wait_until(
            lambda: watch.popen.poll() is not None or lock.read_text() == f"{watch.pid} watch",
            what="the watcher to take the lock or give way",
        )
        if watch.popen.poll() is None:
            wait_until(lambda: caught_up(root), what="the watcher to take every file in")
            assert watch.stop() == 0, watch.err()
        else:
            assert watch.wait() == 1
            lines = [ln for ln in watch.err().splitlines() if ln.strip()]
            assert len(lines) == 1 and "is writing to this workspace" in lines[0], lines
        assert any(p.popen.returncode == 0 for p in procs)
        assert_sound(root, *procs)
    finally:
        for p in procs:
            p.kill()


OPENER = """
import json, sys, time
from pathlib import Path
from rat_tui.engine.state import State

base, at, count = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
errors = []
for k in range(count):
    while time.time() < at + k * 0.04:
        pass
    try:
        state = State(base / f"ws-{k}" / ".rat" / "state.sqlite")
        try:
            state.add_request([], False, 0)
        finally:
            state.close()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps(errors))
"""


def test_processes_creating_the_state_database_at_the_same_instant(tmp_path: Path) -> None:
    """Every rat process opens `.rat/state.sqlite` first thing; on a fresh workspace the first ones
    create it (and turn on its write-ahead log) together. None may fail: 4 processes, 60 databases."""
    count, processes = 60, 4
    at = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(tmp_path), str(at), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    errors = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        errors.extend(json.loads(out))
    assert errors == [], errors[:3]
    for k in range(count):
        db = sqlite3.connect(tmp_path / f"ws-{k}" / ".rat" / "state.sqlite")
        try:
            assert db.execute("pragma journal_mode").fetchone() == ("wal",)
            assert db.execute("select count(*) from requests").fetchone() == (processes,)
        finally:
            db.close()


@pytest.mark.parametrize("seed", range(2 if not SOAK else 15))
def test_a_watcher_stopped_while_a_run_hands_over_loses_no_request(tmp_path: Path, seed: int) -> None:
    """SIGTERM reaches `rat watch` at a seeded moment around a `rat run` handing its run over: the
    run is done and reported, or `rat run` says the watcher stopped first; no request stays open."""
    rng = random.Random(seed)
    root = make_ws(tmp_path / "ws")
    watch = Proc.start(root, "watch")
    lock = root / ".rat" / "lock"
    try:
        wait_until(lambda: lock.exists() and lock.read_text() == f"{watch.pid} watch", what="the watcher's lock")
        wait_until(lambda: caught_up(root), what="the watcher's first build")
        run = Proc.start(root, "run", "--full-refresh")
        time.sleep(rng.uniform(0.3, 2.5))  # rat run starts in about half a second, then waits its turn
        assert watch.stop() == 0, watch.err()
        code = run.wait()
        lines = [ln.removeprefix("rat: ") for ln in run.err().splitlines() if ln.strip()]
        if code == 0:
            assert lines[-1].startswith("the watcher's run") or lines[-1].startswith(("run ", "nothing to do")), lines
        else:
            assert code == 1
            assert lines[-1] == f"error: rat watch (pid {watch.pid}) stopped before doing the run; run `rat run` again"
        assert_sound(root, watch, run)
        requests = state_rows(root, "select status from requests")
        print(f"seed {seed}: rat run exit {code}, requests {requests}")
    finally:
        watch.kill()
        if "run" in locals():
            run.kill()
