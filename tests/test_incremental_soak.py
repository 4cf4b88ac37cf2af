"""Seeded soak of an incremental source against the misbehaving API (tests/api_server.py).

Each seed plays a random history: records inserted and updated with many sharing a cursor value,
late commits inside the lookback, changes while a pull pages through, 429s and 500s, page sizes
that split ties, and for one seed in three a `rat pull` killed with SIGKILL at a random phase.
After every seed, bronze merged by primary key equals the API: 0 lost, 0 duplicated, and the
committed state stays under 64 KB. The suite runs 3 seeds; RAT_SOAK=N runs N (the issue's soak
is RAT_SOAK=100)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import Api
from conftest import run_rat
from test_incremental_sources import LAUNCHER, REST, assert_equals_the_api, configure, pull, state_bytes

from rat_tui.engine.sources import requester

SEEDS = int(os.environ.get("RAT_SOAK", "3"))
LOOKBACK = 600  # seconds: late commits land at most 500 s before the newest value


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requester, "BACKOFF_SECONDS", 0.01)


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.stop()


class History:
    """The API's records, changed at random but as a real table changes: a record's new version
    always has a later updated_at than its old one."""

    def __init__(self, api: Api, rng: random.Random) -> None:
        self.api, self.rng = api, rng
        self.now = 1000  # the newest updated_at so far (seconds after the API's epoch)
        self.next_id = 0

    def at(self, rid: int, t: int) -> None:
        old = self.api.records.get(rid)
        if old is not None:
            from datetime import datetime

            before = int((datetime.fromisoformat(old["updated_at"].replace("Z", "+00:00")).timestamp()) - 1704067200)
            t = max(t, before + 1)
        self.api.put(rid, t, f"v{rid}@{t}#{self.rng.randrange(10**6)}")
        self.now = max(self.now, t)

    def insert(self, n: int, tie: bool) -> None:
        t = self.now if tie else self.now + self.rng.randrange(1, 30)
        for _ in range(n):
            self.at(self.next_id, t if tie else t + self.rng.randrange(0, 3))
            self.next_id += 1

    def step(self) -> None:
        """One burst of change between (or during) pulls."""
        rng = self.rng
        self.insert(rng.randrange(0, 60), tie=rng.random() < 0.4)
        for _ in range(rng.randrange(0, 15)):  # updates of existing records
            if self.next_id:
                self.at(rng.randrange(self.next_id), self.now + rng.randrange(1, 20))
        for _ in range(rng.randrange(0, 4)):  # late commits: an updated_at older than the newest
            self.at(self.next_id, self.now - rng.randrange(0, LOOKBACK - 100))
            self.next_id += 1


@pytest.mark.parametrize("seed", range(SEEDS))
def test_a_seeded_history_lands_whole_and_once(ws: Path, api: Api, seed: int) -> None:
    rng = random.Random(seed)
    api.page_size = rng.choice([7, 25, 50, 100])
    configure(ws, REST.format(base=api.base, lookback=f"{LOOKBACK}s"))
    history = History(api, rng)
    history.insert(rng.randrange(50, 400), tie=True)
    kill_at = rng.randrange(1, 6) if seed % 3 == 0 else None
    for n in range(6):
        history.step()
        if rng.random() < 0.3:
            api.fail_first = [rng.choice([(429, {"Retry-After": "0"}), (500, {}), (503, {})])]
        if rng.random() < 0.3:
            page = rng.randrange(1, 4)
            api.on_page = lambda p, page=page: history.step() if p == page else None
        if n == kill_at:
            phase = rng.choice(["mid-pull", "landed", "staged", "committed"])
            env = {**os.environ, "KILL_AT": phase}
            killed = subprocess.run(
                [sys.executable, "-c", LAUNCHER, "pull", "-w", str(ws)], env=env, capture_output=True, timeout=120
            )
            assert killed.returncode in (-signal.SIGKILL, 0), killed.stderr  # 0: nothing to kill at that phase
            print(
                f"seed {seed}: rat pull {'killed' if killed.returncode else 'not killed (no such moment)'} at {phase}"
            )
        else:
            result = pull(ws)
            assert not result["failed"], result
        api.on_page = None
        api.fail_first = []
    assert run_rat("pull", "-w", str(ws)).returncode == 0  # the last changes, after the history stops
    assert_equals_the_api(ws, api)
    assert state_bytes(ws) < 64 * 1024
