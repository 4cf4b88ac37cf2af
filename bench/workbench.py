"""The workbench as a user sees it: cold start, a 10M-row result, key echo during a large build.

    .venv/bin/python bench/workbench.py                      # 5 rounds, 10M rows, 40 keys
    .venv/bin/python bench/workbench.py --rows 1000000 --rounds 3 --keys 30   # a quicker check
    .venv/bin/python bench/workbench.py --only cold --harlequin /path/to/harlequin

Every figure comes from real processes in a terminal: each app runs in a fresh tmux pane
(120x40, on a tmux server of the bench's own) and the bench reads the screen with
`tmux capture-pane -p`, polling every few milliseconds. A time is from just before the bench acts
(starts the pane, sends the key) to just after the capture that first shows the expected text, so
it includes tmux's own round trip; the "tmux floor" line (a character echoed by `cat` in a pane)
says how much that is.

  1. Cold start: `rat -w <demo workspace>` until the whole workbench is painted: the lake tree
     shows the gold tables, the editor shows its text, the results line and the footer's key hints
     are drawn. The demo is built (`rat run`) before any timing, so the in-process watcher starts
     on a lake with nothing stale; one untimed launch warms the page cache and the bytecode cache.
     Harlequin (not a dependency of rat: `python3 -m venv /tmp/harlequin-venv &&
     /tmp/harlequin-venv/bin/pip install harlequin`, then `--harlequin
     /tmp/harlequin-venv/bin/harlequin`) opens a DuckDB file holding the same demo tables, until
     its data catalog shows the database, its editor, run button and footer are drawn. Both run
     with the bytecode cache written to a temporary folder (PYTHONPYCACHEPREFIX), so neither pays
     for compiling its sources whatever PYTHONDONTWRITEBYTECODE says. Median and best.
  2. A 10M-row result: a Parquet file of `--rows` rows dropped into landing/ and `rat run` gives
     bronze.big. In a fresh rat, `select * from bronze.big` is typed, then ctrl+j; the time runs
     from the key to the grid showing the first rows (its column header and a results line
     counting rows on screen), then to the results line giving the whole count. The baseline is
     DuckDB alone doing run_query's work in the bench's process: a session from
     `Engine.query_session()`, the query read as Arrow batches until fetch_limit (100,000) rows
     are held, then the rest counted. "Grid time after DuckDB" = median time to rows on screen -
     median DuckDB time to those rows. Also the rat process's RSS (/proc/<pid>/status VmRSS)
     before the query, once the rows are shown and once the rest is counted, and its peak (VmHWM).
  3. Key echo: in a fresh rat on that workspace, characters typed one at a time with send-keys
     into a new editor tab, each timed until it appears on screen; first with the engine idle,
     then while the watcher rebuilds silver.big_copy (a model over the whole of bronze.big, its
     SQL edited to make it stale). A key counts as "during a build" only if the header said
     "building" both when it was sent and on the screen that showed it; the model is edited
     again whenever a build ends before enough keys were counted. p50, p95 and max. Then (unless
     --no-other-process) the same builds run by `rat watch` in a session of its own, as from
     another terminal, with rat a viewer: the difference from the in-app figure is what running
     the build inside the workbench's process costs the UI, beyond the CPUs being busy (Linux's
     autogroup scheduling shares the CPUs between sessions, then between a session's threads).

Everything lives in a temporary folder and the bench's tmux server is killed at the end. The
machine's load (from /proc/loadavg) is printed with the results: other work on the machine shows
up in every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

RAT = str(Path(sys.executable).parent / "rat")
# rat's processes run the checkout this file is in (as this process does), not whatever the venv's
# editable install points at.
RAT_ENV = {"PYTHONPATH": str(HERE.parent)}
WIDTH, HEIGHT = 120, 40
MODEL = "silver.big_copy"

TARGETS = {
    "cold": 0.6,  # s, rat's cold start
    "grid": 0.5,  # s, grid time after DuckDB
    "rss": 300.0,  # MB, RSS growth for the 10M-row result
    "echo": 50.0,  # ms, key echo p95 during a build
}
HARLEQUIN_EXPECTED = 1.1  # s, Harlequin's cold start on this kind of machine


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


# tmux, on a server of our own (-L) so nothing else's sessions are touched.


class Tmux:
    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"ratbench-{os.getpid()}"
        self.env = env  # what every pane's command runs under (set with `env`, so exec keeps the pid)
        self.capture_seconds: list[float] = []
        self.socket_path = ""

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", os.devnull, *args], capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, name: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        unset = [a for k in ("PYTHONDONTWRITEBYTECODE",) for a in ("-u", k)]
        variables = {**self.env, **(env or {})}
        command = shlex.join(["env", *unset, *(f"{k}={v}" for k, v in variables.items()), *argv])
        self(
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            "-c",
            str(cwd),
            f"exec {command}",
            ";",
            "set-option",
            "-t",
            name,
            "remain-on-exit",
            "on",
        )
        if not self.socket_path:
            self.socket_path = self("display-message", "-p", "-t", name, "#{socket_path}").strip()

    def capture(self, name: str) -> str:
        started = time.perf_counter()
        text = self("capture-pane", "-p", "-t", name)
        self.capture_seconds.append(time.perf_counter() - started)
        return text

    def send(self, name: str, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", name, *(["-l"] if literal else []), *keys)

    def pid(self, name: str) -> int:
        return int(self("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def dead(self, name: str) -> bool:
        return self("display-message", "-p", "-t", name, "#{pane_dead}", check=False).strip() != "0"

    def wait(
        self, name: str, predicate: Callable[[str], bool], timeout: float, step: float = 0.005, what: str = ""
    ) -> tuple[float, str]:
        """Poll the screen until `predicate` holds; the time just after that capture, and the screen."""
        end = time.perf_counter() + timeout
        while True:
            screen = self.capture(name)
            now = time.perf_counter()
            if predicate(screen):
                return now, screen
            if now > end:
                raise TimeoutError(f"{what or 'screen'} not seen within {timeout:.0f} s in {name}:\n{screen}")
            time.sleep(step)

    def close(self, name: str, quit_keys: tuple[str, ...] = ("C-q",)) -> None:
        """Quit the app with its own key (so it releases the lake's writer lock), then drop the pane."""
        try:
            pid = self.pid(name)
        except (RuntimeError, ValueError):
            return
        if quit_keys and not self.dead(name):
            self.send(name, *quit_keys)
        end = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            time.sleep(0.02)
        self("kill-session", "-t", name, check=False)
        end = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            time.sleep(0.02)

    def kill_server(self) -> None:
        self("kill-server", check=False)
        if self.socket_path:  # the server leaves it behind when it exits with its last session
            Path(self.socket_path).unlink(missing_ok=True)


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


# Workspaces.


def rat(*args: str) -> None:
    done = subprocess.run([RAT, *args], capture_output=True, text=True, env={**os.environ, **RAT_ENV}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rat {' '.join(args)} exited {done.returncode}:\n{done.stderr}")


def build_demo(work: Path) -> Path:
    root = work / "demo"
    rat("init", str(root), "--demo")
    rat("run", "-w", str(root))
    return root


def export_duckdb(root: Path, out: Path) -> None:
    """Every lake table of the workspace, copied into one DuckDB file (schemas bronze, silver, gold)."""
    from rat_tui.engine import Engine, lake
    from rat_tui.engine.workspace import Workspace

    engine = Engine(Workspace.find(root))
    session = engine.query_session()
    try:
        session.con.execute(f"ATTACH '{out}' AS out")
        for name in lake.list_tables(engine.ws):
            layer, table = name.split(".")
            session.con.execute(f"CREATE SCHEMA IF NOT EXISTS out.{layer}")
            session.con.execute(f"CREATE TABLE out.{layer}.{table} AS SELECT * FROM {layer}.{table}")
        session.con.execute("DETACH out")
    finally:
        session.close()
        engine.close()


def model_sql(n: int) -> str:
    return (
        "SELECT k_id, upper(k_customer) AS k_customer, k_date, k_amount * 1.19 AS k_gross, k_status, k_qty,\n"
        f"       md5(k_note) AS k_note_hash, {n} AS k_revision\n"
        "FROM bronze.big\n"
    )


def build_big(work: Path, rows: int) -> Path:
    """A workspace whose bronze.big holds `rows` rows, with silver.big_copy built over all of them."""
    import duckdb

    root = work / "big"
    rat("init", str(root))
    staged = work / "big.parquet"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""COPY (
            SELECT i AS k_id,
                   'C' || lpad((i % 50000)::VARCHAR, 6, '0') AS k_customer,
                   DATE '2024-01-01' + (i % 700)::INT AS k_date,
                   round((hash(i) % 50000) / 100.0, 2) AS k_amount,
                   ['new', 'paid', 'shipped', 'cancelled'][1 + (i % 4)::INT] AS k_status,
                   (i % 13)::INT AS k_qty,
                   'note ' || (hash(i) % 997)::VARCHAR AS k_note
            FROM range({rows}) t(i)
        ) TO '{staged}' (FORMAT parquet)"""
    )
    con.close()
    os.replace(staged, root / "landing" / "big.parquet")
    (root / "models" / "silver" / "big_copy.sql").write_text(model_sql(0))
    started = time.perf_counter()
    rat("run", "-w", str(root))
    print(f"  ingested {rows:,} rows into bronze.big and built {MODEL} in {time.perf_counter() - started:.1f} s")
    return root


# What "painted" means, per app.


def rat_painted(screen: str) -> bool:
    return (
        "daily_revenue" in screen  # the lake tree, loaded from the lake by a worker, shows gold
        and "ctrl+j runs the statement" in screen  # the editor's text
        and "no query yet" in screen  # the results line, mounted on_mount
        and "f1 Help" in screen  # the footer's key hints
    )


def rat_ready(table: str) -> Callable[[str], bool]:
    """Painted, and the engine's watcher has started (the header no longer says starting)."""
    return lambda s: table in s and "f1 Help" in s and ("watching" in s or "viewer" in s)


def harlequin_painted(screen: str) -> bool:
    return (
        "Data Catalog" in screen
        and "demo" in screen  # the catalog shows the database
        and "Query Editor" in screen
        and "Run Query" in screen
        and "f1 Help" in screen
    )


def header(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


# 1. Cold start.


def cold_start(tmux: Tmux, args: argparse.Namespace, work: Path, harlequin: str | None) -> dict[str, list[float]]:
    demo = build_demo(work)
    apps: dict[str, tuple[list[str], Callable[[str], bool], dict[str, str]]] = {
        "rat": ([RAT, "-w", str(demo)], rat_painted, RAT_ENV),
    }
    if harlequin:
        db = work / "demo.duckdb"
        export_duckdb(demo, db)
        apps["harlequin"] = ([harlequin, "--profile", "None", str(db)], harlequin_painted, {})
    times: dict[str, list[float]] = {k: [] for k in apps}
    modes: list[str] = []
    for r in range(args.rounds + 1):  # round 0: untimed warm-up (page cache, bytecode cache)
        order = list(apps) if r % 2 == 0 else list(reversed(apps))
        for name in order:
            argv, painted, env = apps[name]
            pane = f"cold-{name}-{r}"
            started = time.perf_counter()
            tmux.start(pane, argv, work, env)
            seen, _ = tmux.wait(pane, painted, timeout=60, what=f"{name} painted")
            if name == "rat":
                _, screen = tmux.wait(pane, lambda s: "watching" in s or "viewer" in s, 30, 0.02, "engine mode")
                modes.append("viewer" if "viewer" in header(screen) else "watching")
            tmux.close(pane)
            if r == 0:
                print(f"  warm-up {name:9s} {seen - started:6.3f} s", flush=True)
                continue
            times[name].append(seen - started)
            print(f"  round {r} {name:9s} {seen - started:6.3f} s", flush=True)
            time.sleep(0.3)
    if "viewer" in modes:
        print(f"  WARNING: rat opened as a viewer in {modes.count('viewer')} launches (a lock was still held)")
    return times


# 2. The 10M-row result.


def duckdb_alone(root: Path, sql: str) -> tuple[float, float]:
    """What the workbench's query worker does, in this process and with the same code (the
    engine's QueryRun): a query session, the first fetch_limit rows as Arrow, then the rest
    counted batch by batch. The seconds to the first rows and to the count."""
    from rat_tui.engine import Engine
    from rat_tui.engine.results import FirstRows, QueryRun
    from rat_tui.engine.workspace import Workspace

    started = time.perf_counter()
    engine = Engine(Workspace.find(root))
    firsts: list[tuple[FirstRows, float]] = []
    try:
        run = QueryRun(sql, engine.ws.settings.fetch_limit)
        outcome = run.run(engine.query_session, lambda rows: firsts.append((rows, time.perf_counter() - started)))
        counted = time.perf_counter() - started
    finally:
        engine.close()
    assert outcome.error is None and outcome.total, outcome
    rows, first = firsts[0]
    assert rows.table.num_rows == min(run.limit, outcome.total) > 0
    return first, counted


# The results line: "showing the first 100,000 rows · 80 ms · counting the rest…" as soon as the
# grid has its rows, then "showing 100,000 of 10,000,000 rows · 690 ms" (or "N rows · N ms" for a
# result under the fetch limit) once the rest is counted.
ROWS_RE = re.compile(r"[\d,]+ rows")
COUNTED_RE = re.compile(r"(showing [\d,]+ of [\d,]+ rows|(?<![\w,])(?<!first )\d[\d,]* rows ·)")


def last_query(root: Path) -> tuple[float, int]:
    """The seconds and rows run_query recorded for the newest query (the whole of it, count included)."""
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace

    state = State(Workspace.find(root).state_db)
    try:
        last = state.query_history(1)[0]
    finally:
        state.close()
    return float(last["seconds"]), int(last["rows"] or 0)


def open_rat(tmux: Tmux, pane: str, root: Path, mode: str = "watching") -> int:
    tmux.start(pane, [RAT, "-w", str(root)], root, RAT_ENV)
    tmux.wait(pane, rat_ready("big"), timeout=60, step=0.02, what="rat ready")
    time.sleep(2.5)  # the watcher's first (noop) run and the first lake poll are over
    _, screen = tmux.wait(pane, lambda s: True, 1)
    if mode not in header(screen):
        raise RuntimeError(f"rat did not settle to {mode}:\n{screen}")
    return tmux.pid(pane)


def big_result(tmux: Tmux, args: argparse.Namespace, root: Path) -> dict[str, list[float]]:
    sql = "select * from bronze.big"
    keys = (
        "first",
        "counted",
        "in_app",
        "duckdb_first",
        "duckdb_counted",
        "rss_before",
        "rss_rows",
        "rss_after",
        "hwm",
    )
    out: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(args.rounds + 1):  # round 0: untimed warm-up (the Parquet files in the page cache)
        pane = f"big-{r}"
        pid = open_rat(tmux, pane, root)
        tmux.send(pane, "C-n")  # a new, empty editor tab
        tmux.wait(pane, lambda s: "query 2" in s, 10, 0.02, "new tab")
        time.sleep(0.3)
        # The trailing space closes the completion list the table name opened.
        tmux.send(pane, sql + " ", literal=True)
        tmux.wait(pane, lambda s: f"1  {sql}" in s, 10, 0.02, "typed query")
        time.sleep(1.0)
        before = memory(pid)
        started = time.perf_counter()
        tmux.send(pane, "C-j")
        # First rows: the grid's column header and a results line counting rows.
        seen, _ = tmux.wait(
            pane, lambda s: ROWS_RE.search(s) is not None and "k_customer" in s, 120, 0.005, "rows on screen"
        )
        at_rows = memory(pid)
        counted, _ = tmux.wait(
            pane, lambda s: COUNTED_RE.search(s) is not None and "k_customer" in s, 300, 0.01, "the row count"
        )
        after = memory(pid)
        first, whole = seen - started, counted - started
        tmux.close(pane)
        in_app, rows = last_query(root)
        base_first, base_counted = duckdb_alone(root, sql)
        label = "warm-up" if r == 0 else f"round {r}"
        print(
            f"  {label:8s} key -> rows {first:6.3f} s, -> count {whole:6.3f} s (run_query {in_app:5.3f} s, "
            f"{rows:,} rows)  DuckDB alone {base_first:5.3f} s, {base_counted:5.3f} s  RSS {before['VmRSS']:4.0f} "
            f"-> {at_rows['VmRSS']:4.0f} -> {after['VmRSS']:4.0f} MB (peak {after['VmHWM']:4.0f})",
            flush=True,
        )
        if r == 0:
            continue
        for key, value in (
            ("first", first),
            ("counted", whole),
            ("in_app", in_app),
            ("duckdb_first", base_first),
            ("duckdb_counted", base_counted),
            ("rss_before", before["VmRSS"]),
            ("rss_rows", at_rows["VmRSS"]),
            ("rss_after", after["VmRSS"]),
            ("hwm", after["VmHWM"]),
        ):
            out[key].append(value)
    return out


# 3. Key echo.

WORDS = "select,k_amount,sum,k_status,from,bronze,big,where,k_qty,count,order,k_customer,group,k_date".split(",")


def key_lines(width: int = 28) -> list[str]:
    """Lines of typed text: identifiers and commas (a space could not be seen arriving at a line's end)."""
    text = ",".join(WORDS * 20)
    return [text[i : i + width] for i in range(0, len(text), width)][:9]  # line numbers stay one digit


class Typist:
    """Types into the editor one key at a time, starting a new line every so often."""

    def __init__(self, tmux: Tmux, pane: str) -> None:
        self.tmux, self.pane = tmux, pane
        self.lines = key_lines()
        self.line, self.col = 0, 0

    def key(self, busy: Callable[[str], bool]) -> tuple[float, bool]:
        """Type the next character: its echo time, and whether `busy` (given the header line) held
        both when it was sent and on the screen that showed it."""
        if self.col == len(self.lines[self.line]):
            # Escape closes the completion list (so enter does not take a completion), enter: a new line.
            self.tmux.send(self.pane, "Escape")
            time.sleep(0.2)
            self.tmux.send(self.pane, "Enter")
            self.line += 1
            self.col = 0
            if self.line >= len(self.lines):
                raise RuntimeError("out of lines to type on")
            time.sleep(0.2)
        text = self.lines[self.line]
        char = text[self.col]
        expected = f" {self.line + 1}  {text[: self.col + 1]}"
        busy_before = busy(header(self.tmux.capture(self.pane)))
        started = time.perf_counter()
        self.tmux.send(self.pane, char, literal=True)
        seen, screen = self.tmux.wait(self.pane, lambda s: expected in s, 10, 0.002, f"key {char!r}")
        self.col += 1
        return seen - started, busy_before and busy(header(screen))


def typist_in_new_tab(tmux: Tmux, pane: str) -> Typist:
    tmux.send(pane, "C-n")
    tmux.wait(pane, lambda s: "query 2" in s, 10, 0.02, "new tab")
    time.sleep(0.5)
    return Typist(tmux, pane)


def keys_during_builds(
    typist: Typist, keys: int, root: Path, busy: Callable[[str], bool], wait_busy: Callable[[bool], None], label: str
) -> tuple[list[float], int, int]:
    """Echo times of keys typed while `busy`; the model is edited again while more keys are needed.
    Returns the times, the builds started and the keys typed but not counted (the build had ended)."""
    model = root / "models" / "silver" / "big_copy.sql"
    times: list[float] = []
    dropped = builds = 0
    while len(times) < keys:
        builds += 1
        if builds > 10:
            raise RuntimeError("ten builds were not enough for the keys asked: use fewer --keys or more --rows")
        model.write_text(model_sql(builds + 1000 * len(label)))
        wait_busy(True)
        build_started = time.perf_counter()
        while len(times) < keys:
            seconds, counted = typist.key(busy)
            if not counted:
                dropped += 1
                break
            times.append(seconds)
            time.sleep(0.03)
        wait_busy(False)  # every build runs whole before the next edit
        print(
            f"  {label} build {builds}: {len(times)} keys counted so far; "
            f"the build lasted {time.perf_counter() - build_started:.1f} s from its first key",
            flush=True,
        )
    return times, builds, dropped


def key_echo(tmux: Tmux, args: argparse.Namespace, root: Path) -> dict[str, list[float]]:
    pane = "keys"
    open_rat(tmux, pane, root)
    typist = typist_in_new_tab(tmux, pane)
    idle: list[float] = []
    while len(idle) < args.keys:
        seconds, idle_throughout = typist.key(lambda h: "building" not in h)
        if not idle_throughout:
            raise RuntimeError("the engine started building during the idle baseline")
        idle.append(seconds)
        time.sleep(0.03)
    print(f"  idle: {len(idle)} keys, p50 {statistics.median(idle) * 1000:.0f} ms", flush=True)

    def in_app(h: str) -> bool:
        return "building" in h

    def wait_in_app(start: bool) -> None:
        what = "the build to start" if start else "the build to end"
        tmux.wait(pane, lambda s: in_app(header(s)) == start, 60 if start else 600, 0.01, what)

    building, builds, dropped = keys_during_builds(typist, args.keys, root, in_app, wait_in_app, "in-app")
    tmux.close(pane)
    out = {"idle": idle, "building": building, "dropped": [dropped], "builds": [builds]}
    if args.other_process:
        out["other"] = keys_during_other_process_build(tmux, args, root)
    return out


def keys_during_other_process_build(tmux: Tmux, args: argparse.Namespace, root: Path) -> list[float]:
    """The same build run by `rat watch` in a session of its own (another terminal), rat a viewer:
    what the in-process build costs the UI beyond the machine's CPUs being busy."""
    running = threading.Event()
    finished = threading.Event()
    watcher = subprocess.Popen(
        [RAT, "watch", "-w", str(root), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **RAT_ENV},
        start_new_session=True,
    )

    def follow() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            event = json.loads(line).get("event")
            if event == "RunStarted":
                finished.clear()
                running.set()
            elif event == "RunFinished":
                running.clear()
                finished.set()

    threading.Thread(target=follow, daemon=True).start()
    pane = "keys-viewer"
    try:
        if not finished.wait(60):  # the watcher's first run (nothing stale)
            raise RuntimeError("rat watch did not finish its first run")
        open_rat(tmux, pane, root, mode="viewer")
        typist = typist_in_new_tab(tmux, pane)

        def wait_other(start: bool) -> None:
            end = time.monotonic() + (60 if start else 600)
            while running.is_set() != start:
                if time.monotonic() > end:
                    raise RuntimeError(f"rat watch's build did not {'start' if start else 'end'}")
                time.sleep(0.01)

        times, _, _ = keys_during_builds(typist, args.keys, root, lambda h: running.is_set(), wait_other, "rat watch")
        tmux.close(pane)
    finally:
        watcher.terminate()
        try:
            watcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watcher.kill()
    return times


def tmux_floor(tmux: Tmux, work: Path, keys: int = 20) -> list[float]:
    """Key echo of `cat` in a pane: what tmux and the polling cost, with no app in the way."""
    pane = "floor"
    tmux.start(pane, ["cat"], work)
    time.sleep(0.3)
    times = []
    typed = ""
    for i in range(keys):
        char = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        typed += char
        started = time.perf_counter()
        tmux.send(pane, char, literal=True)
        seen, _ = tmux.wait(pane, lambda s, t=typed: t in s, 5, 0.002, "cat echo")
        times.append(seen - started)
    tmux.close(pane, ("C-d",))
    return times


def ms(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5) * 1000:5.1f} ms  p95 {percentile(values, 0.95) * 1000:5.1f} ms  "
        f"max {max(values) * 1000:5.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="timed launches per app and queries (default 5)")
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of bronze.big (default 10M)")
    ap.add_argument("--keys", type=int, default=40, help="keys per key-echo condition (default 40, max 120)")
    ap.add_argument(
        "--other-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time keys while `rat watch` in another session builds (rat a viewer; default on)",
    )
    ap.add_argument("--harlequin", default=None, help="the harlequin executable (default: harlequin on PATH)")
    ap.add_argument(
        "--only", choices=("cold", "result", "keys"), action="append", help="run only these parts (repeatable)"
    )
    args = ap.parse_args()
    args.keys = min(args.keys, 120)
    parts = set(args.only or ("cold", "result", "keys"))
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed: apt-get install tmux")

    harlequin = args.harlequin or shutil.which("harlequin")
    if "cold" in parts and (not harlequin or not os.access(harlequin, os.X_OK)):
        print(
            f"harlequin not found ({harlequin or 'not on PATH'}): measuring rat alone. To compare, install it "
            "apart from rat's venv:\n  python3 -m venv /tmp/harlequin-venv && /tmp/harlequin-venv/bin/pip install "
            "harlequin\nand pass --harlequin /tmp/harlequin-venv/bin/harlequin"
        )
        harlequin = None

    print(f"load average at start: {load()}  ({os.cpu_count()} CPUs)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="rat-bench-workbench-"))
    home = work / "home"  # config and caches of the apps (harlequin's history, buffers) stay here
    env = {
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "TERM": "tmux-256color",
        "COLORTERM": "truecolor",
    }
    tmux = Tmux(env)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        floor = tmux_floor(tmux, work)
        print(f"tmux floor (cat echo): {ms(floor)}", flush=True)
        if "cold" in parts:
            print("\n1. cold start", flush=True)
            results["cold"] = cold_start(tmux, args, work, harlequin)
        if parts & {"result", "keys"}:
            print(f"\nbuilding a workspace with {args.rows:,} rows", flush=True)
            big = build_big(work, args.rows)
            if "result" in parts:
                print(f"\n2. select * from bronze.big ({args.rows:,} rows)", flush=True)
                results["result"] = big_result(tmux, args, big)
            if "keys" in parts:
                print(f"\n3. key echo ({args.keys} keys idle, {args.keys} during a build of {MODEL})", flush=True)
                results["keys"] = key_echo(tmux, args, big)
    finally:
        tmux.kill_server()
        shutil.rmtree(work, ignore_errors=True)

    captures = tmux.capture_seconds
    print()
    print(f"load average at end: {load()}  ({os.cpu_count()} CPUs)")
    if float(load().split()[1]) > (os.cpu_count() or 1):
        print(
            "WARNING: the 5-minute load average is above the CPU count: other work shares the CPUs, figures are noisy"
        )
    print(f"tmux capture-pane round trip: p50 {statistics.median(captures) * 1000:.1f} ms; {ms(floor)} for cat's echo")
    print()
    print(f"{'figure':44s} {'median':>9s} {'best':>9s} {'baseline':>9s} {'ratio':>7s}  target")
    if "cold" in results:
        cold = results["cold"]
        rat = cold["rat"]
        if "harlequin" in cold:
            h = statistics.median(cold["harlequin"])
            print(
                f"{'cold start: harlequin':44s} {h:8.3f}s {min(cold['harlequin']):8.3f}s "
                f"{'':>9s} {'':>7s}  (≈ {HARLEQUIN_EXPECTED} s expected)"
            )
            label, base = "cold start: rat (vs harlequin, median)", h
        else:
            label, base = "cold start: rat (vs harlequin's usual 1.1 s)", HARLEQUIN_EXPECTED
        print(
            f"{label:44s} {statistics.median(rat):8.3f}s {min(rat):8.3f}s "
            f"{base:8.3f}s {statistics.median(rat) / base:6.2f}x  <= {TARGETS['cold']} s"
        )
    if "result" in results:
        res = results["result"]
        big = f"{args.rows / 1e6:g}M-row"
        med = {k: statistics.median(v) for k, v in res.items()}
        rows_label, count_label = f"{big} result: key -> rows on screen", f"{big} result: key -> row count on screen"
        print(
            f"{rows_label:44s} {med['first']:8.3f}s {min(res['first']):8.3f}s {med['duckdb_first']:8.3f}s "
            f"{med['first'] / med['duckdb_first']:6.2f}x  (baseline: DuckDB alone, first rows)"
        )
        print(
            f"{f'{big} result: grid time after DuckDB':44s} {med['first'] - med['duckdb_first']:8.3f}s "
            f"{'':>9s} {'':>9s} {'':>7s}  <= {TARGETS['grid']} s"
        )
        print(
            f"{count_label:44s} {med['counted']:8.3f}s {min(res['counted']):8.3f}s {med['duckdb_counted']:8.3f}s "
            f"{med['counted'] / med['duckdb_counted']:6.2f}x  (baseline: DuckDB alone, count; run_query "
            f"recorded {med['in_app']:.3f} s)"
        )
        growth = [a - b for a, b in zip(res["rss_rows"], res["rss_before"], strict=True)]
        counted = [a - b for a, b in zip(res["rss_after"], res["rss_before"], strict=True)]
        peak = [a - b for a, b in zip(res["hwm"], res["rss_before"], strict=True)]
        print(
            f"{f'{big} result: RSS growth (rows shown)':44s} {statistics.median(growth):7.0f}MB "
            f"{min(growth):7.0f}MB {med['rss_before']:7.0f}MB {med['rss_rows'] / med['rss_before']:6.2f}x  "
            f"<= {TARGETS['rss']:.0f} MB (baseline: RSS before; ratio: after / before)"
        )
        print(
            f"{f'{big} result: RSS growth (rest counted)':44s} {statistics.median(counted):7.0f}MB "
            f"{min(counted):7.0f}MB {med['rss_before']:7.0f}MB {med['rss_after'] / med['rss_before']:6.2f}x"
        )
        print(
            f"{f'{big} result: peak RSS over RSS before':44s} {statistics.median(peak):7.0f}MB {min(peak):7.0f}MB "
            f"{med['rss_before']:7.0f}MB {med['hwm'] / med['rss_before']:6.2f}x  <= {TARGETS['rss']:.0f} MB"
        )
    if "keys" in results:
        k = results["keys"]
        idle, building = k["idle"], k["building"]
        print(f"{'key echo, engine idle':44s} {ms(idle)}")
        print(f"{'key echo, during a build':44s} {ms(building)}  p95 <= {TARGETS['echo']:.0f} ms")
        print(
            f"{'key echo p95, build / idle':44s} {percentile(building, 0.95) / percentile(idle, 0.95):6.2f}x  "
            f"({int(k['builds'][0])} builds; {int(k['dropped'][0])} keys not counted: the build ended)"
        )
        if "other" in k:
            other = k["other"]
            print(f"{'key echo, same build by a separate rat watch':44s} {ms(other)}  (rat a viewer)")


if __name__ == "__main__":
    main()
