"""Landing under a real `rat watch` process: slow writers, renames, copies over old files, floods.

Every test starts `rat watch -w WS --json` as a subprocess, reads its JSON event lines, drops files
the way users and tools do, and then checks the real Delta table (with deltalake) and the ledger in
`.rat/state.sqlite`:

- a file written slowly (3 s, in chunks with pauses shorter than `settle_seconds`) is ingested once
  and whole; so is one written under a `.part` name (pauses longer than the settle time, which the
  name makes safe) and then renamed, and one moved in from outside with os.rename;
- a file copied over a landing file with the same bytes is skipped; with other bytes it is a new batch;
- a flood of 2,000 small files lands exactly once each, in a few commits, within a time budget
  printed with the result (RAT_SOAK=1 floods 20,000).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RAT, wait_until, write
from deltalake import DeltaTable

SOAK = os.environ.get("RAT_SOAK", "") not in ("", "0")
FLOOD = 20_000 if SOAK else 2_000
FLOOD_BUDGET_SECONDS = 240 if SOAK else 90  # 2,000 files take ~15 s here; CI has 2 shared cores
SETTLE = 0.3  # the default settle_seconds the workspace keeps


class Watch:
    """`rat watch --json` on a workspace, with the events it printed (read on a thread)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.err = open(root.parent / "watch.stderr", "w+")  # closed in stop()
        self.proc = subprocess.Popen(
            [RAT, "watch", "-w", str(root), "--json"], stdout=subprocess.PIPE, stderr=self.err, text=True
        )
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_runs(1, timeout=60)  # the first run: whatever waited in landing/ at start

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["event"] == kind and all(e.get(k) == v for k, v in match.items())]

    def runs(self) -> int:
        return len(self.of("RunFinished"))

    def wait_runs(self, n: int, timeout: float = 30.0) -> None:
        def done() -> bool:
            assert self.proc.poll() is None, f"rat watch exited {self.proc.returncode}: {self.stderr()}"
            return self.runs() >= n

        wait_until(done, timeout, f"{n} runs of rat watch")

    def quiet(self, seconds: float = 2.5) -> None:
        """Wait until no event arrived for `seconds` (past the 2 s rescan: nothing left to take)."""
        last, since = len(self.events), time.monotonic()
        deadline = since + 120
        while time.monotonic() - since < seconds and time.monotonic() < deadline:
            time.sleep(0.1)
            if len(self.events) != last:
                last, since = len(self.events), time.monotonic()

    def stderr(self) -> str:
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
            assert code == 0, self.stderr()
        self._reader.join(timeout=10)
        assert "Traceback" not in self.stderr(), self.stderr()
        self.err.close()


@pytest.fixture
def watch(ws: Path) -> Iterator[Callable[[], Watch]]:
    started: list[Watch] = []

    def start() -> Watch:
        w = Watch(ws)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def seed_orders(ws: Path) -> None:
    """bronze.orders with one file, dropped a minute ago (settled)."""
    f = write(ws / "landing" / "orders" / "0.csv", "id,amount\n1,10\n")
    old = time.time() - 60
    os.utime(f, (old, old))


def csv_rows(first: int, n: int) -> str:
    return "".join(f"{first + i},{i % 97}\n" for i in range(n))


def bronze(ws: Path, table: str = "orders") -> DeltaTable:
    return DeltaTable(str(ws / "lake" / "bronze" / table))


def rows_of(ws: Path, source: str, table: str = "orders") -> tuple[int, int]:
    """(rows, distinct batches) in bronze.<table> from one landing file, read whole through deltalake."""
    t = bronze(ws, table).to_pyarrow_table(columns=["_source_file", "_batch_id"]).to_pylist()
    mine = [r for r in t if r["_source_file"] == source]
    return len(mine), len({r["_batch_id"] for r in mine})


def ledger(ws: Path, path: str) -> list[tuple[str, int | None]]:
    """(status, rows) of every ledger entry of a landing path."""
    with sqlite3.connect(ws / ".rat" / "state.sqlite") as db:
        return db.execute("SELECT status, rows FROM ingested_files WHERE path = ? ORDER BY at", (path,)).fetchall()


def ingest_events(w: Watch, table: str = "bronze.orders") -> list[dict[str, Any]]:
    return w.of("TableIngested", table=table)


def test_a_slow_writer_pausing_less_than_the_settle_time_is_ingested_once_and_whole(ws: Path, watch) -> None:
    seed_orders(ws)
    w = watch()
    before = len(ingest_events(w))
    target = ws / "landing" / "orders" / "slow.csv"
    n, gaps = 0, []
    started = last = time.monotonic()
    with open(target, "w") as fh:
        fh.write("id,amount\n")
        while time.monotonic() - started < 3.0:  # 3 s of writing
            fh.write(csv_rows(100 + n, 7))
            fh.flush()
            n += 7
            time.sleep(0.08)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
    wait_until(lambda: len(ingest_events(w)) > before, what="slow.csv in bronze")
    w.quiet()
    assert max(gaps) < SETTLE, f"the writer paused {max(gaps):.2f}s: past the settle time, the test proves nothing"
    assert [(e["files"], e["rows"]) for e in ingest_events(w)[before:]] == [(1, n)]
    assert rows_of(ws, "orders/slow.csv") == (n, 1)
    assert ledger(ws, "orders/slow.csv") == [("ingested", n)]


def test_a_part_file_written_slowly_waits_until_renamed_then_is_ingested_once(ws: Path, watch) -> None:
    seed_orders(ws)
    w = watch()
    before, runs = len(ingest_events(w)), w.runs()
    part = ws / "landing" / "orders" / "big.csv.part"
    n = 0
    with open(part, "w") as fh:
        fh.write("id,amount\n")
        for _ in range(6):  # 3 s, pauses longer than the settle time: only the name keeps it waiting
            fh.write(csv_rows(1000 + n, 50))
            fh.flush()
            n += 50
            time.sleep(0.5)
    assert w.runs() == runs and len(ingest_events(w)) == before, "a .part file was taken"
    part.rename(ws / "landing" / "orders" / "big.csv")
    wait_until(lambda: len(ingest_events(w)) > before, what="big.csv in bronze")
    w.quiet()
    assert [(e["files"], e["rows"]) for e in ingest_events(w)[before:]] == [(1, n)]
    assert rows_of(ws, "orders/big.csv") == (n, 1)
    assert rows_of(ws, "orders/big.csv.part") == (0, 0)
    assert ledger(ws, "orders/big.csv") == [("ingested", n)]


def test_a_file_moved_in_from_outside_is_ingested_once(ws: Path, watch, tmp_path: Path) -> None:
    seed_orders(ws)
    w = watch()
    before = len(ingest_events(w))
    outside = write(tmp_path / "outside" / "moved.csv", "id,amount\n" + csv_rows(5000, 250))
    os.rename(outside, ws / "landing" / "orders" / "moved.csv")  # same file system: one atomic rename
    wait_until(lambda: len(ingest_events(w)) > before, what="moved.csv in bronze")
    w.quiet()
    assert [(e["files"], e["rows"]) for e in ingest_events(w)[before:]] == [(1, 250)]
    assert rows_of(ws, "orders/moved.csv") == (250, 1)
    assert ledger(ws, "orders/moved.csv") == [("ingested", 250)]


def test_a_copy_over_a_landing_file_is_skipped_with_the_same_bytes_and_new_with_others(
    ws: Path, watch, tmp_path: Path
) -> None:
    seed_orders(ws)
    target = write(ws / "landing" / "orders" / "daily.csv", "id,amount\n" + csv_rows(7000, 40))
    old = time.time() - 60
    os.utime(target, (old, old))
    w = watch()
    assert rows_of(ws, "orders/daily.csv") == (40, 1)
    version = bronze(ws).version()

    same = write(tmp_path / "export" / "daily.csv", target.read_bytes())
    runs = w.runs()
    shutil.copyfile(same, target)  # the same bytes again, with a new mtime
    w.wait_runs(runs + 1)
    w.quiet()
    assert w.of("FileSkipped", path="orders/daily.csv", table="bronze.orders")
    assert bronze(ws).version() == version, "the same bytes made a commit"
    assert rows_of(ws, "orders/daily.csv") == (40, 1)

    changed = write(tmp_path / "export2" / "daily.csv", "id,amount\n" + csv_rows(8000, 55))
    before = len(ingest_events(w))
    shutil.copyfile(changed, target)
    wait_until(lambda: len(ingest_events(w)) > before, what="the changed daily.csv in bronze")
    w.quiet()
    assert [(e["files"], e["rows"]) for e in ingest_events(w)[before:]] == [(1, 55)]
    assert bronze(ws).version() == version + 1
    assert rows_of(ws, "orders/daily.csv") == (40 + 55, 2)  # the old batch stays, the new one is added
    assert [s for s, _ in ledger(ws, "orders/daily.csv")] == ["ingested", "ingested"]


@pytest.mark.slow
def test_a_flood_of_files_is_ingested_exactly_once_in_few_commits(ws: Path, watch) -> None:
    seed_orders(ws)
    write(ws / "models" / "silver" / "orders.sql", "select id, amount from bronze.orders")
    w = watch()
    before = bronze(ws).version()
    started = time.perf_counter()
    for i in range(FLOOD):
        write(ws / "landing" / "orders" / f"flood-{i:05}.csv", f"id,amount\n{100_000 + i},{i % 7}\n")
    written = time.perf_counter() - started

    def landed() -> bool:
        return bronze(ws).version() > before and sum(e["rows"] for e in ingest_events(w)) >= FLOOD + 1

    wait_until(landed, timeout=FLOOD_BUDGET_SECONDS, what=f"{FLOOD} files in bronze")
    seconds = time.perf_counter() - started
    w.quiet()
    table = bronze(ws)
    commits = table.version() - before
    rows = table.to_pyarrow_table(columns=["id", "amount", "_source_file"])
    print(
        f"\nflood: {FLOOD} files written in {written:.1f}s, all in bronze after {seconds:.1f}s "
        f"(budget {FLOOD_BUDGET_SECONDS}s), {commits} commits"
    )
    assert rows.num_rows == FLOOD + 1
    assert len(set(rows.column("_source_file").to_pylist())) == FLOOD + 1
    assert len(set(rows.column("id").to_pylist())) == FLOOD + 1
    assert sum(rows.column("amount").to_pylist()) == 10 + sum(i % 7 for i in range(FLOOD))
    assert 1 <= commits <= (10 if SOAK else 5), commits
    assert seconds < FLOOD_BUDGET_SECONDS
    with sqlite3.connect(ws / ".rat" / "state.sqlite") as db:
        status = dict(db.execute("SELECT status, count(*) FROM ingested_files GROUP BY status").fetchall())
    assert status == {"ingested": FLOOD + 1}
    # The model downstream was rebuilt on the whole flood, not on part of it only.
    wait_until(
        lambda: DeltaTable(str(ws / "lake" / "silver" / "orders")).to_pyarrow_dataset().count_rows() == FLOOD + 1
    )
