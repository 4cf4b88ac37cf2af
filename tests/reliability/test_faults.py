"""Faults of the machine under a real `rat run`: an unreadable landing file, a read-only lake/, a full
disk, a state database another process holds locked.

Each fault must give ONE clear line on stderr (`rat: error: ...` naming what went wrong, where, and
what to do; no traceback) and a non-zero exit; must corrupt nothing (every Delta table reads whole,
no stray staged files, the ledger agrees with bronze, the dropped file is still in landing/); and
once the fault is gone the next `rat run` exits 0 and ingests the file exactly once.

The faults are real wherever the machine allows it; CI runs as root in a container, where
`chmod 000` and `chmod a-w` stop nothing. So, probed once per session:

- unreadable file: `chmod 000`, with rat run by `setpriv` without CAP_DAC_OVERRIDE and
  CAP_DAC_READ_SEARCH (as root), so the kernel refuses the read as it does for any user;
- read-only lake/: rat runs in its own mount namespace (`unshare -m`) where lake/ is bind-mounted
  read-only (EROFS from the kernel; the mount dies with the process);
- disk full: the workspace lives on a small tmpfs (`mount -t tmpfs -o size=...`, unmounted in a
  finally) filled up to a few KB;
- locked state database: always real, a second process holding `BEGIN EXCLUSIVE` on
  `.rat/state.sqlite`.

Where a mechanism is not available (no setpriv, no mount namespaces, not root) the fault is
injected instead, in a real `rat` process started through a small launcher (INJECT below) that
raises the very error the kernel would (EACCES on opening the file, EROFS on writing under lake/,
ENOSPC on writing Parquet) and then runs rat's own `main()`. RAT_FAULTS_INJECT=1 forces injection
everywhere, to check that path too. The test output says which mechanism each test used.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import RAT, write
from deltalake import DeltaTable

from rat_tui.engine.workspace import init_workspace

FORCE_INJECT = os.environ.get("RAT_FAULTS_INJECT", "") not in ("", "0")
NEW = "orders/new.csv"  # the file each fault hits
NEW_ROWS = 300

# A real `rat` process with one fault injected where the kernel would raise it. RAT_FAULT is
# "unreadable:<path suffix>" (while the file RAT_FAULT_WHILE exists, if set), "readonly" (every
# write under lake/) or "full" (every Parquet write).
INJECT = r"""
import builtins, errno, io, os, sys
kind, _, arg = os.environ["RAT_FAULT"].partition(":")
if kind == "unreadable":
    real_open = builtins.open
    flag = os.environ.get("RAT_FAULT_WHILE")
    def guarded(file, *args, **kwargs):
        active = flag is None or os.path.exists(flag)
        if active and isinstance(file, (str, os.PathLike)) and os.fspath(file).endswith(arg):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)
    builtins.open = io.open = guarded
elif kind == "readonly":
    from rat_tui.engine import lake
    def stage_path(table_path, batch):
        raise OSError(errno.EROFS, "Read-only file system", str(table_path))
    lake.stage_path = stage_path
elif kind == "full":
    import polars as pl
    def no_space(self, file, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(file))
    pl.DataFrame.write_parquet = no_space
    pl.LazyFrame.sink_parquet = no_space
from rat_tui import cli
sys.argv[0] = "rat"
sys.exit(cli.main(sys.argv[1:]))
"""


# Probing what this machine allows (once per session).


def _ok(cmd: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None


@functools.cache
def without_dac(probe_dir: Path) -> tuple[str, ...] | None:
    """A command prefix under which `chmod 000` stops reads, or None (then: injection)."""
    if FORCE_INJECT:
        return None
    probe = probe_dir / "unreadable-probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        prefix: tuple[str, ...] = ()
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                return None
            prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
        denied = _ok([*prefix, "cat", str(probe)])
        works = _ok([*prefix, sys.executable, "-c", "pass"])
        if denied is None or works is None or denied.returncode == 0 or works.returncode != 0:
            return None
        return prefix
    finally:
        probe.chmod(0o644)
        probe.unlink()


def _ro_prefix(target: Path) -> tuple[str, ...]:
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ("unshare", "-m", "--propagation", "private", "sh", "-c", script, str(target))


@functools.cache
def ro_mounts(probe_dir: Path) -> bool:
    """Whether a process can get its own mount namespace with a read-only bind mount."""
    if FORCE_INJECT or shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = probe_dir / "ro-probe"
    probe.mkdir()
    try:
        refused = _ok([*_ro_prefix(probe), "touch", str(probe / "x")])
        return refused is not None and refused.returncode != 0 and "Read-only" in refused.stderr
    finally:
        shutil.rmtree(probe)


@functools.cache
def tmpfs_mounts(probe_dir: Path) -> bool:
    if FORCE_INJECT or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = probe_dir / "tmpfs-probe"
    probe.mkdir()
    mounted = _ok(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)])
    if mounted is None or mounted.returncode != 0:
        probe.rmdir()
        return False
    _umount(probe)
    probe.rmdir()
    return True


def _umount(path: Path) -> None:
    done = _ok(["umount", str(path)])
    if done is None or done.returncode != 0:
        _ok(["umount", "-l", str(path)])  # busy: detach it now, the kernel frees it when unused


@pytest.fixture(scope="session")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe")


# The workspace, running rat, and what must hold after a fault.


def csv_rows(first: int, n: int) -> str:
    return "id,amount\n" + "".join(f"{first + i},{i % 89}\n" for i in range(n))


def shop(root: Path) -> Path:
    """bronze.orders and silver.orders built from one file, and NEW waiting in landing/."""
    init_workspace(root)
    write(root / "landing" / "orders" / "0.csv", csv_rows(1, 10))
    write(root / "models" / "silver" / "orders.sql", "select id, amount from bronze.orders")
    done = rat(root, "run")
    assert done.returncode == 0, done.stderr
    write(root / "landing" / NEW, csv_rows(1000, NEW_ROWS))
    return root


def rat(
    root: Path, *args: str, prefix: Sequence[str] = (), fault: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`rat ARGS -w ROOT` as a real process: under `prefix`, or through INJECT with `fault`."""
    cmd = [sys.executable, "-c", INJECT] if fault else [RAT]
    env = {**os.environ, "RAT_FAULT": fault} if fault else None
    return subprocess.run(
        [*prefix, *cmd, *args, "-w", str(root)], capture_output=True, text=True, timeout=timeout, env=env
    )


def error_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one `rat: error:` line of a failed run, holding every needle (what, where, what to do)."""
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("rat: error:")]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    print(f"\n  {lines[0]}")
    return lines[0]


def assert_whole(root: Path) -> None:
    """Every table reads whole, holds no stray files, and the ledger agrees with bronze."""
    with sqlite3.connect(root / ".rat" / "state.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        entries = db.execute("SELECT table_name, path, status, batch_id, rows FROM ingested_files").fetchall()
    for table in sorted((root / "lake").glob("*/*")):
        dt = DeltaTable(str(table))
        counted = sum(int(n) for n in dt.get_add_actions(flatten=True).column("num_records").to_pylist())
        assert dt.to_pyarrow_table().num_rows == counted, table
        referenced = {
            Path(uri.removeprefix("file://")).resolve()
            for v in range(dt.version() + 1)
            for uri in DeltaTable(str(table), version=v).file_uris()
        }
        on_disk = {p.resolve() for p in table.rglob("*") if p.is_file() and "_delta_log" not in p.parts}
        assert on_disk <= referenced, f"stray files in {table}: {on_disk - referenced}"
    for table_name, path, status, batch, rows in entries:
        if status != "ingested":
            continue  # pending: settled by the next run from the table's history
        bronze = DeltaTable(str(root / "lake" / "bronze" / table_name.split(".", 1)[1]))
        lineage = bronze.to_pyarrow_table(columns=["_source_file", "_batch_id"]).to_pylist()
        assert sum(1 for r in lineage if r["_source_file"] == path and r["_batch_id"] == batch) == rows, path


def assert_waiting(root: Path) -> None:
    """The file the fault hit is still in landing/ and nowhere in bronze or the ledger."""
    assert (root / "landing" / NEW).is_file()
    assert not list((root / ".rat" / "quarantine").rglob("new.csv"))
    lineage = DeltaTable(str(root / "lake" / "bronze" / "orders")).to_pyarrow_table(columns=["_source_file"])
    assert NEW not in lineage.column("_source_file").to_pylist()
    with sqlite3.connect(root / ".rat" / "state.sqlite") as db:
        assert (
            db.execute("SELECT status FROM ingested_files WHERE path = ? AND status != 'pending'", (NEW,)).fetchall()
            == []
        )


def assert_recovers(root: Path, rows: int = NEW_ROWS) -> None:
    """With the fault gone, the next run ingests the file exactly once and builds; the one after has nothing to do."""
    done = rat(root, "run")
    assert done.returncode == 0, done.stderr
    assert_whole(root)
    bronze = DeltaTable(str(root / "lake" / "bronze" / "orders")).to_pyarrow_table().to_pylist()
    mine = [r for r in bronze if r["_source_file"] == NEW]
    assert len(mine) == rows and len({r["_batch_id"] for r in mine}) == 1
    assert sorted(r["id"] for r in mine) == list(range(1000, 1000 + rows))
    assert DeltaTable(str(root / "lake" / "silver" / "orders")).to_pyarrow_table().num_rows == len(bronze) == 10 + rows
    with sqlite3.connect(root / ".rat" / "state.sqlite") as db:
        assert db.execute("SELECT status, rows FROM ingested_files WHERE path = ?", (NEW,)).fetchall() == [
            ("ingested", rows)
        ]
        assert db.execute("SELECT count(*) FROM ingested_files WHERE status = 'pending'").fetchone() == (0,)
    again = rat(root, "run")
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr


# The faults.


def test_an_unreadable_landing_file_is_named_waits_and_lands_once_readable(tmp_path: Path, probe_dir: Path) -> None:
    root = shop(tmp_path / "ws")
    prefix = without_dac(probe_dir)
    how = f"chmod 000, rat run under {' '.join(prefix) or 'a user'}" if prefix is not None else "injected EACCES"
    print(f"\nmechanism: {how}")
    target = root / "landing" / NEW
    if prefix is not None:
        target.chmod(0)
        done = rat(root, "run", prefix=prefix)
    else:
        done = rat(root, "run", fault=f"unreadable:{NEW}")
    try:
        error_line(done, "landing/orders/new.csv", "cannot be read", "permission", "run again")
        assert_whole(root)
        assert_waiting(root)
        # A later run while it is still unreadable says so again: the file is not forgotten.
        again = rat(root, "run", prefix=prefix) if prefix is not None else rat(root, "run", fault=f"unreadable:{NEW}")
        error_line(again, "landing/orders/new.csv")
    finally:
        target.chmod(0o644)
    assert_recovers(root)


def test_a_read_only_lake_fails_clearly_and_publishes_nothing(tmp_path: Path, probe_dir: Path) -> None:
    root = shop(tmp_path / "ws")
    versions = {t.name: DeltaTable(str(t)).version() for t in (root / "lake").glob("*/*")}
    if ro_mounts(probe_dir):
        print("\nmechanism: lake/ bind-mounted read-only in rat's own mount namespace")
        done = rat(root, "run", prefix=_ro_prefix(root / "lake"))
    else:
        print("\nmechanism: injected EROFS on every write under lake/")
        done = rat(root, "run", fault="readonly")
    error_line(done, "lake/bronze/orders", "read-only", "writable", "run again")
    assert {t.name: DeltaTable(str(t)).version() for t in (root / "lake").glob("*/*")} == versions
    assert_whole(root)
    assert_waiting(root)
    assert_recovers(root)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    assert mounted.returncode == 0, mounted.stderr
    try:
        yield path
    finally:
        _umount(path)


def fill(disk: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the disk's free space."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        block = b"\0" * (1 << 20)
        todo = max(free - leave, 0)
        try:
            while todo > 0:
                todo -= fh.write(block[: min(todo, len(block))])
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def incompressible_rows(first: int, n: int) -> str:
    return "id,amount\n" + "".join(f"{first + i},{os.urandom(24).hex()}\n" for i in range(n))


def test_a_full_disk_fails_clearly_and_the_next_run_after_freeing_space_ingests_once(
    tmp_path: Path, probe_dir: Path
) -> None:
    if not tmpfs_mounts(probe_dir):
        print("\nmechanism: injected ENOSPC on every Parquet write")
        root = shop(tmp_path / "ws")
        done = rat(root, "run", fault="full")
        error_line(done, "lake/bronze/orders", "no space left", "free", "run again")
        assert_whole(root)
        assert_waiting(root)
        assert_recovers(root)
        return
    print("\nmechanism: the workspace on a 16 MB tmpfs, filled up")
    with small_disk(tmp_path / "disk", "16m") as disk:
        root = shop(disk / "ws")
        # 1. The state database cannot grow: nothing at all is free.
        filler = fill(disk, 0)
        done = rat(root, "run")
        error_line(done, "no space left", "free", "run again")
        filler.unlink()
        assert_whole(root)
        assert_waiting(root)
        # 2. The state database has room, the new file's Parquet (~1.5 MB of random text) has not.
        big = NEW_ROWS * 100
        write(root / "landing" / NEW, incompressible_rows(1000, big))
        filler = fill(disk, 256 * 1024)
        done = rat(root, "run")
        error_line(done, "lake/bronze/orders", "no space left", "free", "run again")
        assert_whole(root)
        assert_waiting(root)
        filler.unlink()
        assert_recovers(root, big)


HOLD = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE runs SET command = command")  # a write, as a real holder would make
print("held", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@contextmanager
def state_locked(root: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root / ".rat" / "state.sqlite"), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)


def test_a_state_database_locked_a_few_seconds_is_waited_for(tmp_path: Path) -> None:
    root = shop(tmp_path / "ws")
    with state_locked(root, 3.0) as holder:
        started = time.monotonic()
        done = rat(root, "run")
        waited = time.monotonic() - started
        assert holder.wait(timeout=30) == 0  # its transaction committed: rat did not break in
    assert done.returncode == 0, done.stderr
    assert waited >= 2.0, f"rat finished in {waited:.1f}s while the state database was locked"
    assert_whole(root)
    with sqlite3.connect(root / ".rat" / "state.sqlite") as db:
        assert db.execute("SELECT status, rows FROM ingested_files WHERE path = ?", (NEW,)).fetchall() == [
            ("ingested", NEW_ROWS)
        ]


def test_a_state_database_locked_too_long_fails_clearly_then_recovers(tmp_path: Path) -> None:
    root = shop(tmp_path / "ws")
    config = root / "rat.toml"
    config.write_text("state_timeout = 2\n" + config.read_text())  # top level, before any [table]
    with state_locked(root, 60.0):
        started = time.monotonic()
        done = rat(root, "run")
        waited = time.monotonic() - started
        error_line(done, ".rat/state.sqlite", "locked by another process", "state_timeout", "run again")
        assert 2.0 <= waited < 30, waited
        assert_waiting(root)
    assert_whole(root)
    assert_recovers(root)


def test_an_unreadable_file_under_rat_watch_is_reported_once_and_lands_once_readable(
    tmp_path: Path, probe_dir: Path
) -> None:
    import json
    import signal
    import threading

    root = shop(tmp_path / "ws")
    target = root / "landing" / NEW
    prefix = without_dac(probe_dir)
    flag = tmp_path / "fault-on"
    if prefix is not None:
        print(f"\nmechanism: chmod 000, rat watch under {' '.join(prefix) or 'a user'}")
        target.chmod(0)
        cmd, env = [*prefix, RAT], None
    else:
        print("\nmechanism: injected EACCES on open while a flag file exists")
        flag.touch()
        cmd = [sys.executable, "-c", INJECT]
        env = {**os.environ, "RAT_FAULT": f"unreadable:{NEW}", "RAT_FAULT_WHILE": str(flag)}
    proc = subprocess.Popen(
        [*cmd, "watch", "-w", str(root), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    events: list[dict] = []
    reader = threading.Thread(target=lambda: events.extend(json.loads(line) for line in proc.stdout), daemon=True)  # type: ignore[union-attr]
    reader.start()

    def seen(kind: str) -> list[dict]:
        return [e for e in list(events) if e["event"] == kind]

    def wait_for(kind: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not seen(kind):
            assert proc.poll() is None and time.monotonic() < end, (kind, events)
            time.sleep(0.05)

    try:
        wait_for("FileUnreadable")
        time.sleep(5)  # two rescans of landing/ (every 2 s): the file is not tried, and told, again and again
        assert [(e["path"], e["reason"]) for e in seen("FileUnreadable")] == [(NEW, "permission denied")]
        assert len(seen("RunFinished")) == 1 and seen("RunFinished")[0]["status"] == "failed"
        assert_whole(root)
        assert_waiting(root)
        target.chmod(0o644)
        flag.unlink(missing_ok=True)
        wait_for("TableIngested", timeout=30)  # the chmod changed no mtime: the watcher looks again anyway
        time.sleep(2.5)
        assert [(e["table"], e["rows"]) for e in seen("TableIngested")] == [("bronze.orders", NEW_ROWS)]
    finally:
        target.chmod(0o644)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        err = proc.stderr.read() if proc.stderr else ""
    assert code == 0 and "Traceback" not in err, err
    assert_recovers(root)
