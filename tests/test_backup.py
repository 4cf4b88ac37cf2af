"""`rat backup` / `rat restore` for real: backups taken while a real `rat watch` ingests files
dropped during them, restored, and checked against the source at the versions they pinned; the
restored workspace then runs on as the source would have (nothing lost, nothing ingested twice)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import polars as pl
import pytest
from conftest import RAT, run_rat, wait_until, write

from rat_tui.engine import Engine, RatError

ROWS = 100  # per dropped file


def drop(root: Path, n: int) -> None:
    rows = "".join(f"{n * ROWS + i},{i}\n" for i in range(ROWS))
    write(root / "landing" / "t" / f"f{n:03}.csv", "id,v\n" + rows)


def frame(table: Path, version: int) -> pl.DataFrame:
    return pl.read_delta(str(table), version=version).drop(["_ingested_at"], strict=False).sort(pl.all())


def test_backups_under_rat_watch_with_drops_restore_whole(ws: Path, tmp_path: Path) -> None:
    write(ws / "models" / "silver" / "t.sql", "select id, v * 2 as w from bronze.t")
    drop(ws, 0)
    assert run_rat("run", "-w", str(ws)).returncode == 0
    watcher = subprocess.Popen([RAT, "watch", "-w", str(ws)], stderr=subprocess.PIPE, text=True)
    lock = ws / ".rat" / "lock"
    wait_until(lambda: lock.exists() and lock.read_text() == f"{watcher.pid} watch", what="rat watch's lock")
    stop = threading.Event()

    def dropping() -> None:
        n = 1
        while not stop.is_set() and n < 30:
            drop(ws, n)
            n += 1
            stop.wait(0.5)  # past the settle time: the watcher commits between drops

    dropper = threading.Thread(target=dropping)
    dropper.start()
    backups = []
    try:
        for k in range(3):
            dest = tmp_path / f"backup{k}"
            done = run_rat("backup", "-w", str(ws), str(dest))
            assert done.returncode == 0, done.stderr
            assert "backed up 2 tables" in done.stderr and "Traceback" not in done.stderr
            backups.append(dest)
            stop.wait(1.0)
    finally:
        stop.set()
        dropper.join()
        watcher.terminate()
        assert watcher.wait(timeout=60) == 0
    assert "Traceback" not in (watcher.stderr.read() if watcher.stderr else "")

    pinned_bronze = set()
    for k, backup in enumerate(backups):
        assert not (tmp_path / f"backup{k}.partial").exists()
        manifest = json.loads((backup / "rat-backup.json").read_text())
        pinned_bronze.add(manifest["tables"]["bronze.t"])
        restored = tmp_path / f"restored{k}"
        back = run_rat("restore", str(backup), str(restored))
        assert back.returncode == 0, back.stderr
        # Each table equals the source at the version the backup pinned, history included.
        for name, version in manifest["tables"].items():
            layer, table = name.split(".")
            source, copy = ws / "lake" / layer / table, restored / "lake" / layer / table
            assert frame(copy, version).equals(frame(source, version)), name
            assert frame(copy, 0).equals(frame(source, 0)), name  # time travel survives
        # No landing file was copied half-written.
        landed = sorted((restored / "landing" / "t").glob("*.csv"))
        assert all(len(f.read_text().splitlines()) == ROWS + 1 for f in landed)
        # Run on: what the backup's state had not ingested is ingested now, once; the rest not again.
        assert run_rat("run", "-w", str(restored)).returncode == 0
        engine = Engine.open(restored)
        session = engine.query_session()
        bronze = session.sql("select count(*), count(distinct id) from bronze.t").fetchall()[0]
        silver = session.sql("select count(*) from silver.t").fetchall()[0][0]
        session.close()
        engine.close()
        assert bronze == (ROWS * len(landed), ROWS * len(landed)) and silver == bronze[0], (k, bronze, len(landed))
        assert run_rat("status", "-w", str(restored), "--check").returncode == 0
    assert len(pinned_bronze) > 1  # the watcher kept committing between the backups


def test_bad_destinations_and_a_broken_copy_leave_nothing(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(ws, 0)
    assert run_rat("run", "-w", str(ws)).returncode == 0
    full = tmp_path / "full"
    write(full / "x.txt", "x")
    refused = run_rat("backup", "-w", str(ws), str(full))
    assert refused.returncode != 0 and "already exists and is not empty" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert "not a rat backup" in run_rat("restore", str(full), str(tmp_path / "r")).stderr
    inside = run_rat("backup", "-w", str(ws), str(ws / "backups" / "b"))
    assert inside.returncode != 0 and "cannot go inside the workspace" in inside.stderr

    from rat_tui.engine import backup

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(backup, "_copy_table", broken)
    dest = tmp_path / "b"
    engine = Engine.open(ws)
    with pytest.raises(OSError, match="disk full"):
        engine.backup(dest)
    assert not dest.exists() and not (tmp_path / "b.partial").exists()  # nothing that looks whole

    monkeypatch.undo()
    engine.backup(dest)
    engine.close()
    target = tmp_path / "restored"
    write(target / "keep.txt", "mine")
    assert "already exists and is not empty" in run_rat("restore", str(dest), str(target)).stderr
    with pytest.raises(RatError, match="incomplete"):
        (dest / "rat.toml").unlink()
        backup.restore(dest, tmp_path / "other")
