"""Crash consistency: `rat run` and `rat watch` killed with SIGKILL at seeded random moments.

Each trial starts a real `rat run` or `rat watch` process on a real workspace (three order exports
of 100,000 rows and customers; five models: two with checks, an incremental append, an incremental
merge with checks) and kills it with SIGKILL inside one phase: ingest, build, check or commit.
Then:

- every Delta table reads (deltalake and DuckDB through `rat query`) as one whole version that a
  clean run also committed;
- every dropped file is in bronze exactly once, or still waits in landing/ (none half, none twice),
  and the ledger claims no file that bronze lacks;
- the dead process's `.rat/lock` does not block: the next `rat run` exits 0 and leaves every table
  equal to a run that was never killed (lineage columns `_ingested_at`, `_batch_id` aside), and a
  run after it has nothing to do.

How the kills find their phase. The trials run rat's own `main()` in a real process through a small
launcher (LAUNCHER below) that prints a marker line to stderr when a phase begins; it changes
nothing else. A clean run of every scenario first measures the timeline: which phases happen and
how long each lasts. A trial picks (from its seed) one phase occurrence and a delay inside its
measured duration, and kills when that marker plus the delay has passed; the phase it landed in is
the last marker the process printed. A Delta commit lasts milliseconds, so commit kills are exact
instead: strace stops the process at the system call that links the new log entry into place (or
removes its temporary file right after), where strace is usable; or the launcher holds for a moment
right after the commit, before rat records it in its state, and the kill lands in that hold.

The default kills every command once in every phase, the scenarios taking turns (about a minute
on two cores). RAT_SOAK=N runs N seeded trials of every scenario in every phase instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from rat_tui.engine.workspace import init_workspace, pid_alive

RAT = str(Path(sys.executable).parent / "rat")
PHASES = ("ingest", "build", "check", "commit")
MARKER = "@rat-crash "
VOLATILE = ("_ingested_at", "_batch_id")  # lineage that differs from run to run
ROWS_PER_EXPORT = 100_000
SOAK = int(os.environ.get("RAT_SOAK", "0") or 0)

# Runs rat's command line as `rat` does, printing "@rat-crash <phase> <table>" to stderr when a
# phase begins: ingest (a landing file is read), build (a model's rows are staged), check, commit
# ("committed <table> <version>" right after the Delta commit). RAT_CRASH_HOLD="<phase> <table>
# <seconds>" sleeps after that marker, so a kill can land there; RAT_CRASH_STREAM_BYTES lowers the
# size from which a landing file streams into a commit of its own.
LAUNCHER = r"""
import os, sys, time
from rat_tui import cli
from rat_tui.engine import build, ingest, lake

HOLD = os.environ.get("RAT_CRASH_HOLD", "").split()
if os.environ.get("RAT_CRASH_STREAM_BYTES"):  # smaller files take the large-file path
    ingest.reader.STREAM_BYTES = int(os.environ["RAT_CRASH_STREAM_BYTES"])

def mark(phase, table, *extra):
    sys.stderr.write(" ".join(("@rat-crash", phase, table) + extra) + "\n")
    sys.stderr.flush()
    if HOLD[:2] == [phase, table]:
        time.sleep(float(HOLD[2]))

def announce(owner, attr, phase, table_of):
    original = getattr(owner, attr)
    def wrapper(*args, **kwargs):
        mark(phase, table_of(*args))
        return original(*args, **kwargs)
    setattr(owner, attr, wrapper)

announce(ingest.reader, "read_file", "ingest", lambda file, *rest, **kw: file.table)
announce(build.Builder, "_stage", "build", lambda self, model, *rest: model.name)
announce(build.Builder, "_audit", "check", lambda self, model, *rest: model.name)
publish = lake.publish

def traced_publish(table_path, *args, **kwargs):
    table = table_path.parent.name + "." + table_path.name
    mark("commit", table)
    version = publish(table_path, *args, **kwargs)
    mark("committed", table, str(version))
    return version

lake.publish = traced_publish
sys.exit(cli.main(sys.argv[1:]))
"""

MODELS = {
    # A table with checks: the latest row per order from every export.
    "silver/orders.sql": """/* rat
[checks]
not_null = ["order_id", "order_date", "amount"]
unique = ["order_id"]
accepted_values = { status = ["new", "paid", "shipped", "cancelled"] }
expression = "amount >= 0"
*/
SELECT order_id, customer_id, CAST(order_date AS DATE) AS order_date, status, CAST(amount AS DECIMAL(12, 2)) AS amount
FROM bronze.orders
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _source_file DESC) = 1
""",
    # Incremental append: every bronze row once.
    "silver/order_log.sql": """/* rat
materialized = "incremental"
strategy = "append"
*/
SELECT order_id, upper(status) AS status, CAST(amount AS DECIMAL(12, 2)) AS amount, _source_file
FROM bronze.orders
""",
    # Incremental merge with checks: an update in a later export replaces the order's row.
    "silver/order_latest.sql": """/* rat
materialized = "incremental"
strategy = "merge"
unique_key = "order_id"
[checks]
unique = ["order_id"]
not_null = ["status"]
*/
SELECT order_id, status, CAST(amount AS DECIMAL(12, 2)) AS amount, _source_file
FROM bronze.orders
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _source_file DESC) = 1
""",
    "gold/daily.sql": """SELECT order_date, count(*) AS orders, sum(amount) AS revenue
FROM silver.orders GROUP BY order_date
""",
    "gold/customers.sql": """/* rat
[checks]
unique = ["customer_id"]
not_null = ["customer_id", "country"]
*/
SELECT c.customer_id, c.country, count(o.order_id) AS orders, coalesce(sum(o.amount), 0) AS revenue
FROM bronze.customers AS c LEFT JOIN silver.orders AS o USING (customer_id)
GROUP BY c.customer_id, c.country
""",
}
NEW_EXPORT = "orders/2024-04.csv"  # dropped into a built workspace: new orders and updates of old ones


def orders(start: int, count: int, rng: random.Random, updated: bool = False) -> pl.DataFrame:
    ids = range(start, start + count)
    statuses = ("new", "paid", "shipped", "cancelled")
    return pl.DataFrame(
        {
            "order_id": [f"O{i:07d}" for i in ids],
            "customer_id": [f"C{(i * 7919) % 20_000:05d}" for i in ids],
            "order_date": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in ids],
            "status": [statuses[(i + updated) % 4] for i in ids],
            "amount": [round(rng.uniform(1, 900), 2) for _ in ids],
        }
    )


def make_source(root: Path) -> tuple[Path, dict[str, int]]:
    """The fresh workspace (landing files and models, nothing built) and the later export; the rows of
    every landing file by its path under landing/."""
    rng = random.Random(20240401)
    init_workspace(root)
    rows: dict[str, int] = {}
    for month in range(3):
        rel = f"orders/2024-{month + 1:02d}.csv"
        (root / "landing" / rel).parent.mkdir(parents=True, exist_ok=True)
        orders(month * ROWS_PER_EXPORT, ROWS_PER_EXPORT, rng).write_csv(root / "landing" / rel)
        rows[rel] = ROWS_PER_EXPORT
    customers = pl.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(20_000)],
            "country": [("DE", "FR", "US")[i % 3] for i in range(20_000)],
        }
    )
    customers.write_ndjson(root / "landing" / "customers.ndjson")
    rows["customers.ndjson"] = customers.height
    for rel, sql in MODELS.items():
        (root / "models" / rel).write_text(sql, encoding="utf-8")
    later = pl.concat(
        [orders(3 * ROWS_PER_EXPORT, 40_000, rng), orders(100_000, 10_000, rng, updated=True)], how="vertical"
    )
    export = root.parent / "2024-04.csv"
    later.write_csv(export)
    rows[NEW_EXPORT] = later.height
    return export, rows


# Reading the lake.


def committed_versions(table: Path) -> list[int]:
    """Versions whose log entry exists (a leftover temporary file of a killed commit is none)."""
    try:
        names = os.listdir(table / "_delta_log")
    except FileNotFoundError:
        return []
    return sorted(int(n[:20]) for n in names if re.fullmatch(r"\d{20}\.json", n))


def lake_tables(root: Path) -> dict[str, Path]:
    """Every table with a committed version, by `layer.table`."""
    out = {}
    for layer in ("bronze", "silver", "gold"):
        folder = root / "lake" / layer
        if folder.is_dir():
            out.update({f"{layer}.{p.name}": p for p in sorted(folder.iterdir()) if committed_versions(p)})
    return out


def digest(table: Path, version: int | None = None) -> tuple[int, int]:
    """(rows, an order-independent hash of every row), read with deltalake; lineage that differs from
    run to run left out."""
    arrow = DeltaTable(str(table), version=version).to_pyarrow_table()
    columns = sorted(c for c in arrow.column_names if c not in VOLATILE)
    frame = pl.from_arrow(arrow.select(columns))
    assert isinstance(frame, pl.DataFrame)
    hashes = frame.hash_rows(seed=7)
    return frame.height, int((hashes // 2**32).sum()) * 2**32 + int((hashes % 2**32).sum())


def bronze_rows_per_file(root: Path) -> dict[str, int]:
    """Bronze rows per landing file, read with deltalake."""
    out: Counter[str] = Counter()
    for name, path in lake_tables(root).items():
        if name.startswith("bronze."):
            files = DeltaTable(str(path)).to_pyarrow_table(columns=["_source_file"]).column(0)
            out.update(dict(pl.Series(files).value_counts().iter_rows()))
    return dict(out)


def all_digests(root: Path) -> dict[str, dict[int, tuple[int, int]]]:
    """Every committed version of every table."""
    return {name: {v: digest(path, v) for v in committed_versions(path)} for name, path in lake_tables(root).items()}


def rat_query_counts(root: Path, tables: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Through `rat query` (DuckDB over the current versions): rows per table, and bronze rows per
    landing file."""
    if not tables:
        return {}, {}
    parts = []
    for name in tables:
        layer, table = name.split(".")
        source = f'"{layer}"."{table}"'
        if layer == "bronze":
            parts.append(f"SELECT '{name}' AS t, _source_file AS f, count(*) AS n FROM {source} GROUP BY _source_file")
        else:
            parts.append(f"SELECT '{name}' AS t, NULL AS f, count(*) AS n FROM {source}")
    sql = " UNION ALL ".join(parts)
    r = run_rat("query", "-w", str(root), sql, "--format", "json")
    assert r.returncode == 0, f"rat query failed after the crash: {r.stderr}"
    per_table: Counter[str] = Counter()
    per_file: Counter[str] = Counter()
    for row in json.loads(r.stdout):
        per_table[row["t"]] += row["n"]
        if row["f"] is not None:
            per_file[row["f"]] += row["n"]
    return dict(per_table), dict(per_file)


def ledger(root: Path) -> list[dict]:
    db = sqlite3.connect(f"file:{root / '.rat' / 'state.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM ingested_files")]
    finally:
        db.close()


def unfinished_runs(root: Path) -> list[str]:
    db = sqlite3.connect(f"file:{root / '.rat' / 'state.sqlite'}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("SELECT run_id FROM runs WHERE status = 'running'")]
    finally:
        db.close()


def run_rat(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RAT, *args], capture_output=True, text=True, timeout=timeout)


def clone(src: Path, dest: Path) -> Path:
    """A copy of a workspace: landing and lake files (never rewritten in place) hard-linked, rat's
    state copied."""

    def link_or_copy(s: str, d: str) -> None:
        if "/.rat/" in s:
            shutil.copy2(s, d)
        else:
            os.link(s, d)

    shutil.copytree(src, dest, copy_function=link_or_copy)
    (dest / ".rat" / "lock").unlink(missing_ok=True)
    return dest


# The instrumented rat process.


@dataclass
class Marker:
    phase: str  # ingest | build | check | commit | committed
    table: str
    at: float  # seconds since the process started
    version: int | None = None


def parse_marker(line: str, t0: float, now: float) -> Marker | None:
    if not line.startswith(MARKER):
        return None
    parts = line[len(MARKER) :].split()
    return Marker(parts[0], parts[1], now - t0, int(parts[2]) if len(parts) > 2 else None)


@dataclass
class Kill:
    """Where a trial kills: the `occurrence`-th marker (phase, table), `delay` seconds after it;
    or, with `strace`, exactly at the system call on `strace[1]` (a commit's temporary log file)."""

    phase: str
    table: str
    occurrence: int
    delay: float = 0.0
    hold: str | None = None  # RAT_CRASH_HOLD for the launcher
    strace: tuple[str, str] | None = None  # (syscalls, path relative to the workspace)
    how: str = "timed"


class Rat:
    """The launcher running `rat <args>`, its stderr read line by line, killed per a Kill."""

    def __init__(
        self, args: list[str], kill: Kill | None = None, root: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        env = {**os.environ, **(env or {})}
        command = [sys.executable, "-c", LAUNCHER, *args]
        if kill is not None and kill.hold:
            env["RAT_CRASH_HOLD"] = kill.hold
        if kill is not None and kill.strace:
            assert root is not None
            calls, rel = kill.strace
            trap = ["strace", "-f", "-qq", "-o", os.devnull, "-P", str(root.resolve() / rel)]
            command = [*trap, "-e", f"trace={calls}", "-e", f"inject={calls}:signal=KILL", *command]
        self.kill = kill
        self.markers: list[Marker] = []
        self.lines: list[str] = []
        self._timer: threading.Timer | None = None
        self.t0 = time.monotonic()
        # A session of its own: `end()` kills what is left of it, strace's tracee included.
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        self._seen: Counter[tuple[str, str]] = Counter()
        self.started = threading.Event()  # `rat watch` is watching
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            now = time.monotonic()
            self.lines.append(line.rstrip("\n"))
            if "watching " in line:
                self.started.set()
            marker = parse_marker(line, self.t0, now)
            if marker is None:
                continue
            self.markers.append(marker)
            self._seen[(marker.phase, marker.table)] += 1
            k = self.kill
            if k is None or k.strace:
                continue
            if self._timer is not None:
                # The phase ended sooner than in the measured run (the machine is less busy now):
                # kill at once, at the start of the next phase, rather than not at all.
                self._timer.cancel()
                self._sigkill()
            elif (marker.phase, marker.table) == (k.phase, k.table) and self._seen[(k.phase, k.table)] == k.occurrence:
                self._timer = threading.Timer(k.delay, self._sigkill)
                self._timer.daemon = True
                self._timer.start()

    def _sigkill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)  # a no-op once the process has been waited for

    def wait(self, timeout: float = 60) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.end()
            raise AssertionError(f"rat did not end within {timeout}s; stderr:\n" + "\n".join(self.lines)) from None
        self._reader.join(10)
        return rc

    def end(self) -> None:
        """Kill whatever is left of this process's group (after a trial that failed half-way)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def landed(self) -> str:
        """The phase the process was in when it died: its last marker."""
        if not self.markers:
            return "startup"
        last = self.markers[-1].phase
        return "commit" if last == "committed" else last


def killed(rc: int) -> bool:
    return rc in (-signal.SIGKILL, 128 + signal.SIGKILL)  # 137: strace passes on its tracee's death


# The scenarios and their clean references.


@dataclass
class Reference:
    """A scenario's workspace built without a kill: its timeline and every committed version."""

    name: str
    root: Path
    timeline: list[Marker]
    seconds: float
    versions: dict[str, dict[int, tuple[int, int]]]
    base: dict[str, int] = field(default_factory=dict)  # table -> the version the scenario starts from
    env: dict[str, str] = field(default_factory=dict)  # for the launcher

    def final(self) -> dict[str, tuple[int, int]]:
        return {t: vs[max(vs)] for t, vs in self.versions.items()}

    def allowed(self, table: str) -> set[tuple[int, int] | None]:
        """What a reader may see of `table` after a crash: a version the scenario's clean run passed
        through (from the one it started at), or nothing if the table did not exist yet."""
        start = self.base.get(table)
        out: set[tuple[int, int] | None] = {d for v, d in self.versions.get(table, {}).items() if v >= (start or 0)}
        if start is None:
            out.add(None)
        return out

    def durations(self) -> list[tuple[Marker, float, int]]:
        """Each marker, how long until the next one (or the end), and its occurrence number."""
        seen: Counter[tuple[str, str]] = Counter()
        out = []
        for i, m in enumerate(self.timeline):
            end = self.timeline[i + 1].at if i + 1 < len(self.timeline) else self.seconds
            seen[(m.phase, m.table)] += 1
            out.append((m, end - m.at, seen[(m.phase, m.table)]))
        return out


@dataclass
class Lab:
    source: Path  # the fresh workspace
    export: Path  # the later export, dropped in the update scenarios
    rows: dict[str, int]
    refs: dict[str, Reference]
    strace: bool
    work: Path
    landed: list[tuple[str, str, str]] = field(default_factory=list)  # (trial, how it killed, landed phase)


def clean_run(
    name: str, root: Path, args: list[str], base: dict[str, int], env: dict[str, str] | None = None
) -> Reference:
    rat = Rat([*args, "-w", str(root)], env=env)
    rc = rat.wait()
    assert rc == 0, "\n".join(rat.lines)
    seconds = time.monotonic() - rat.t0
    return Reference(name, root, rat.markers, seconds, all_digests(root), base, env or {})


def strace_usable(tmp: Path) -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(
        ["strace", "-f", "-qq", "-o", os.devnull, "-P", str(tmp), "-e", "trace=unlink", "true"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("crash")
    source = work / "source"
    export, rows = make_source(source)
    fresh = clean_run("fresh", clone(source, work / "ref-fresh"), ["run"], {})
    built = {t: max(vs) for t, vs in fresh.versions.items()}
    update_root = clone(fresh.root, work / "ref-update")
    drop(update_root, export)
    update = clean_run("update", update_root, ["run"], built)
    refresh = clean_run("refresh", clone(fresh.root, work / "ref-refresh"), ["run", "--full-refresh"], built)
    # Each export streamed into a commit of its own, as a file of 64 MB or more is.
    stream_env = {"RAT_CRASH_STREAM_BYTES": str(2**20)}
    stream = clean_run("stream", clone(source, work / "ref-stream"), ["run"], {}, stream_env)
    assert max(stream.versions["bronze.orders"]) == 2
    # The same contents whichever way: a full rebuild, streamed files.
    assert refresh.final() == fresh.final() == stream.final()
    refs = {"fresh": fresh, "update": update, "refresh": refresh, "stream": stream}
    lab = Lab(source, export, rows, refs, strace_usable(work), work)
    yield lab
    by_phase = Counter(landed for _, _, landed in lab.landed)
    for trial_id, how, landed in lab.landed:
        print(f"{trial_id}: {how} -> killed in {landed}", file=sys.stderr)
    print(f"\ncrash trials: {len(lab.landed)}; landed per phase: {dict(sorted(by_phase.items()))}", file=sys.stderr)
    if len(lab.landed) >= len(TRIALS):  # the whole set ran: every phase was hit
        assert set(PHASES) <= set(by_phase), by_phase


def drop(root: Path, export: Path) -> None:
    """Move a finished export into landing/ at once (the safe way the README describes)."""
    staged = root / f"{NEW_EXPORT.replace('/', '_')}.part"
    shutil.copy2(export, staged)
    os.replace(staged, root / "landing" / NEW_EXPORT)


# Choosing the kill.


COMMIT_KILLS = ("link", "unlink", "hold")


def choose_kill(rng: random.Random, ref: Reference, phase: str, strace: bool, variant: str) -> Kill:
    durations = ref.durations()
    if phase != "commit":
        m, length, occurrence = rng.choice([d for d in durations if d[0].phase == phase])
        return Kill(phase, m.table, occurrence, delay=rng.uniform(0.0, 0.9) * length)
    commits = [d for d in durations if d[0].phase == "commit"]
    m, length, occurrence = rng.choice(commits)
    after = next(x for x in ref.timeline if x.phase == "committed" and x.table == m.table and x.at >= m.at)
    assert after.version is not None
    layer, table = m.table.split(".")
    temp = f"lake/{layer}/{table}/_delta_log/{after.version:020d}.json#1"
    how = variant
    if how == "hold":  # right after the commit, before rat records it in its state
        return Kill(
            "committed", m.table, occurrence, delay=rng.uniform(0.0, 0.3), hold=f"committed {m.table} 0.5", how=how
        )
    if strace:  # the new log entry written, not yet linked into place / linked, its temporary file not yet removed
        calls = "linkat,link" if how == "link" else "unlink,unlinkat"
        return Kill("commit", m.table, occurrence, strace=(calls, temp), how=how)
    return Kill("commit", m.table, occurrence, delay=rng.uniform(0.0, 1.0) * length, how="timed")


# The checks after a crash and after recovery.


def check_consistent(lab: Lab, root: Path, ref: Reference, files: list[str]) -> None:
    """Whole committed versions only; every file in bronze once or still waiting; nothing lost."""
    present = lake_tables(root)
    unknown = set(present) - set(ref.versions)
    assert not unknown, f"tables no clean run makes: {unknown}"
    counts = {}
    for name in ref.versions:
        seen = digest(present[name]) if name in present else None
        assert seen in ref.allowed(name), (
            f"{name} reads as {seen}, not a version a clean run committed: {sorted(ref.allowed(name), key=str)}"
        )
        if seen is not None:
            counts[name] = seen[0]
    per_table, per_file = rat_query_counts(root, sorted(present))
    assert per_table == counts, f"rat query sees other row counts than deltalake: {per_table} vs {counts}"
    quarantine = root / ".rat" / "quarantine"
    for rel in files:
        n = per_file.get(rel, 0)
        assert n in (0, lab.rows[rel]), f"landing/{rel} is in bronze {n} times its {lab.rows[rel]} rows"
        if n == 0:
            assert (root / "landing" / rel).is_file() or any(quarantine.rglob(Path(rel).name)), f"landing/{rel} lost"
    for row in ledger(root):
        if row["status"] == "ingested":
            assert per_file.get(row["path"], 0) == lab.rows[row["path"]], f"the ledger claims {row} but bronze lacks it"
        else:
            assert row["status"] == "pending", row  # a crash between intent and commit, settled by the next run


def check_recovers(lab: Lab, root: Path, ref: Reference, files: list[str], dead_pid: int | None) -> None:
    """The dead writer's lock does not block: the next run ends well, with what a run never killed
    makes; every file once; nothing left running; and nothing left to do."""
    holder = (root / ".rat" / "lock").read_text().split()
    assert holder and not pid_alive(int(holder[0])), f"the lock names {holder}, not a dead process"
    if dead_pid is not None:  # (under strace the killed process is strace's child)
        assert int(holder[0]) == dead_pid, f"the lock names {holder}, not the killed process {dead_pid}"
    r = run_rat("run", "-w", str(root))
    assert r.returncode == 0, f"the run after the crash failed:\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    present = lake_tables(root)
    assert {name: digest(path) for name, path in present.items()} == ref.final()
    assert bronze_rows_per_file(root) == {rel: lab.rows[rel] for rel in files}
    rows = ledger(root)
    assert sorted((r["path"], r["status"]) for r in rows) == sorted((rel, "ingested") for rel in files)
    assert not any((root / ".rat" / "quarantine").rglob("*.*")), "a good file was quarantined"
    assert unfinished_runs(root) == [], "the killed run is still shown as running"
    again = run_rat("run", "-w", str(root))
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr


# The trials.


@dataclass(frozen=True)
class Trial:
    command: str  # run | watch | handoff (a `rat run` handed to a watcher that is killed)
    scenario: str  # fresh | update (a new export into a built lake) | stream (each export its own commit)
    phase: str
    seed: int
    variant: str = ""  # for a commit: link | unlink | hold (see choose_kill)

    @property
    def id(self) -> str:
        return f"{self.command}-{self.scenario}-{self.phase}-{self.seed}"


def trials() -> list[Trial]:
    """By default every command is killed once in every phase, the scenarios taking turns (run:
    fresh lake, new export, exports streaming into commits of their own; watch: fresh lake, new
    export), and a watcher is killed while it serves `rat run --full-refresh` for another process
    (build and commit; check too in the soak). The streaming run gets the ingest and the commit, where it differs.
    RAT_SOAK=N: N seeded trials of every scenario in every phase."""
    if SOAK:
        cases = [(c, s, p) for c, s in SCENARIOS for p in PHASES]
    else:
        turns = {c: [s for c2, s in SCENARIOS if c2 == c] for c, _ in SCENARIOS}
        cases = [(c, turns[c][i % len(turns[c])], p) for c in turns for i, p in enumerate(PHASES)]
    cases += [("handoff", "fresh", p) for p in (("build", "check", "commit") if SOAK else ("build", "commit"))]
    out: list[Trial] = []
    for command, scenario, phase in cases:
        for seed in range(1, (SOAK or 1) + 1):
            commits = sum(t.phase == "commit" for t in out)
            variant = COMMIT_KILLS[commits % len(COMMIT_KILLS)] if phase == "commit" else ""
            out.append(Trial(command, scenario, phase, seed, variant))
    return out


SCENARIOS = [("run", "stream"), ("run", "update"), ("run", "fresh"), ("watch", "fresh"), ("watch", "update")]
TRIALS = trials()


@pytest.mark.parametrize("trial", TRIALS, ids=[t.id for t in TRIALS])
def test_kill_9_leaves_whole_versions_and_the_next_run_recovers(lab: Lab, trial: Trial) -> None:
    rng = random.Random(trial.id)
    built = trial.scenario == "update" or trial.command == "handoff"
    root = clone(lab.refs["fresh"].root if built else lab.source, lab.work / trial.id)
    files = sorted(lab.rows) if trial.scenario == "update" else sorted(r for r in lab.rows if r != NEW_EXPORT)
    if trial.command == "handoff":
        ref, expected = lab.refs["refresh"], lab.refs["fresh"]
    else:
        ref = expected = lab.refs[trial.scenario]  # a streamed lake holds what a fresh one does
    kill = choose_kill(rng, ref, trial.phase, lab.strace, trial.variant)
    requester: subprocess.Popen[str] | None = None
    if trial.command == "run" and trial.scenario == "update":
        drop(root, lab.export)
    rat = Rat([trial.command if trial.command == "run" else "watch", "-w", str(root)], kill, root, ref.env)
    try:
        if trial.command != "run":  # the watcher first, then the export dropped while it watches
            assert rat.started.wait(30), "\n".join(rat.lines)
            if trial.scenario == "update":
                drop(root, lab.export)
            if trial.command == "handoff":
                requester = subprocess.Popen(
                    [RAT, "run", "-w", str(root), "--full-refresh"], stderr=subprocess.PIPE, text=True
                )
        rc = rat.wait()
        landed = rat.landed()
        lab.landed.append((trial.id, f"{kill.how} {kill.phase} {kill.table}#{kill.occurrence}", landed))
        detail = f"kill {kill} landed in {landed}; stderr:\n" + "\n".join(rat.lines[-12:])
        assert killed(rc), f"rat was not killed (exit {rc}): {detail}"
        assert landed in PHASES, detail
        if requester is not None:
            try:
                _, err = requester.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    "`rat run` kept waiting for the run it handed to a watcher that was killed"
                ) from None
            assert requester.returncode != 0 and "Traceback" not in err, err
            assert "stopped" in err, err
    finally:
        rat.end()
        if requester is not None and requester.poll() is None:
            requester.kill()
            requester.communicate()
    check_consistent(lab, root, ref, files)
    check_recovers(lab, root, expected, files, None if kill.strace else rat.proc.pid)
    shutil.rmtree(root, ignore_errors=True)


def test_a_table_killed_inside_its_first_commit_is_not_a_table_until_built_again(tmp_path: Path) -> None:
    """A process killed inside a table's first Delta commit leaves `_delta_log/` holding only the
    temporary entry delta-rs writes before linking it into place (what the `link` commit trials
    found: every query and every later run failed on "No files in log segment")."""
    root = tmp_path / "ws"
    init_workspace(root)
    (root / "landing" / "orders.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    (root / "models" / "silver" / "orders.sql").write_text("select id, amount from bronze.orders", encoding="utf-8")
    log = root / "lake" / "silver" / "orders" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json#1").write_text('{"commitInfo":{"timestamp":17', encoding="utf-8")
    r = run_rat("query", "-w", str(root), "select 1 as one", "--format", "csv")
    assert (r.returncode, r.stdout.split()) == (0, ["one", "1"]), r.stderr
    r = run_rat("run", "-w", str(root))
    assert r.returncode == 0, r.stderr
    assert DeltaTable(str(log.parent)).to_pyarrow_table().num_rows == 2
    r = run_rat("query", "-w", str(root), "select sum(amount) as total from silver.orders", "--format", "csv")
    assert r.stdout.split() == ["total", "30"], r.stderr
