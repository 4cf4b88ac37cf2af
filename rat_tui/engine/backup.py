"""`rat backup` and `rat restore`: a consistent copy of a workspace, even while `rat watch` runs.

The one moment that must be consistent is the state database against the tables' versions: the
ledger says which landing files are in bronze, the model state which version each model built.
So the snapshot is taken by the writer (this process under the writer's lock, or the running
watcher or workbench between two runs, handed the request): SQLite's online backup of
`.rat/state.sqlite` and each table's version at that instant. Everything after is copied outside
the lock, because what it copies never changes: a Delta version's log entries and data files are
immutable, and each table is copied up to its pinned version (its history too, as far as the
files are still there). Landing files are copied when they held still while being copied (a file
half-dropped waits for the next backup, as it waits for the next run); they are ingested, or not,
after a restore exactly as the state copy says. The copy is written under `DEST.partial` and
renamed into place at the end: an interrupted backup leaves no DEST that looks whole.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rat_tui._version import __version__
from rat_tui.engine import lake
from rat_tui.engine.errors import RatError
from rat_tui.engine.ingest.landing import TEMP_SUFFIXES
from rat_tui.engine.workspace import CONFIG_NAME, Workspace

MANIFEST = "rat-backup.json"
# What is never copied: the lake and .rat (copied their own way), and rat's scratch space.
SKIPPED_TOP = {"lake", ".rat"}
SKIPPED_STATE = {"tmp", "lock", "logs", "state.sqlite", "state.sqlite-wal", "state.sqlite-shm"}


@dataclass
class BackupReport:
    """What a backup holds."""

    dest: Path
    tables: dict[str, int]  # table -> the version copied
    files: int = 0  # files copied, of every kind
    bytes: int = 0
    landing_skipped: list[str] = field(default_factory=list)  # still being written: not copied
    seconds: float = 0.0


def snapshot(ws: Workspace, state_db: sqlite3.Connection, dest_state: Path) -> dict[str, int]:
    """The consistent moment, taken by the writer between runs: the state database copied with
    SQLite's online backup to `dest_state`, and every table's current version."""
    dest_state.parent.mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(dest_state)
    try:
        state_db.backup(target)
    finally:
        target.close()
    pins = {}
    for name in lake.list_tables(ws):
        version = lake.latest_version(ws.table_path(name))
        if version is not None:
            pins[name] = version
    return pins


def take(engine: Any, dest: Path) -> BackupReport:  # an Engine (typed so, it would import this back)
    """The whole backup to `dest` (new or empty): the snapshot under the writer's lock, or handed to
    the running writer; then the copy, outside any lock."""
    from rat_tui.engine.errors import LockedError

    dest = dest.resolve()
    if dest == engine.ws.root or engine.ws.root in dest.parents:
        raise RatError(f"{dest}: a backup cannot go inside the workspace it copies; name a folder outside it")
    check_dest(dest)
    partial = partial_of(dest)
    state_copy = partial / ".rat" / "state.sqlite"
    started = time.monotonic()
    try:
        with engine._writing("backup"):
            pins = snapshot(engine.ws, engine.state.db, state_copy)
    except LockedError as locked:
        request = engine.hand_over(locked, "backup", {"state": str(state_copy)})
        outcome = engine.wait_for_request(request, locked)
        if outcome.status == "failed":
            raise RatError(outcome.message or "the writer could not take the backup's snapshot") from None
        pins = {str(k): int(v) for k, v in outcome.result["tables"].items()}
    try:
        return copy_rest(engine.ws, pins, partial, dest, started)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def partial_of(dest: Path) -> Path:
    return dest.with_name(dest.name + ".partial")


def check_dest(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RatError(f"{dest}: already exists and is not empty; name a new folder for the backup")
    partial = partial_of(dest)
    if partial.exists():
        shutil.rmtree(partial)  # what an interrupted backup left


def copy_rest(ws: Workspace, pins: dict[str, int], partial: Path, dest: Path, started: float) -> BackupReport:
    """After the snapshot: the tables at their pinned versions, the workspace's files, landing,
    quarantine; then the manifest, and the rename that makes the backup whole."""
    report = BackupReport(dest, dict(pins))
    for name, version in pins.items():
        _copy_table(ws.table_path(name), partial / "lake" / Path(*name.split(".", 1)), version, report)
    for entry in sorted(ws.root.iterdir()):
        if entry.name in SKIPPED_TOP or entry.name.endswith(".partial"):
            continue
        _copy_tree(entry, partial / entry.name, report, careful=entry.name == "landing")
    for entry in sorted(ws.state_dir.iterdir()):
        if entry.name not in SKIPPED_STATE:
            _copy_tree(entry, partial / ".rat" / entry.name, report, careful=False)
    report.seconds = time.monotonic() - started
    manifest = {
        "rat": __version__,
        "workspace": ws.settings.name,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tables": pins,
        "files": report.files,
        "bytes": report.bytes,
        "landing_skipped": report.landing_skipped,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    _fsync_tree(partial)
    if dest.exists():
        dest.rmdir()  # empty: checked before
    partial.rename(dest)
    return report


def _copy_file(src: Path, dst: Path, report: BackupReport) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    report.files += 1
    report.bytes += dst.stat().st_size


def _copy_tree(src: Path, dst: Path, report: BackupReport, careful: bool) -> None:
    """Copy a file or folder. `careful` (landing/): a file that changed while copied, or is named
    as still being written, is left out and named in the report."""
    if src.is_symlink():
        return
    if src.is_file():
        if not careful:
            _copy_file(src, dst, report)
            return
        if src.name.startswith(".") or src.name.endswith(TEMP_SUFFIXES):
            return
        before = src.stat()
        _copy_file(src, dst, report)
        after = src.stat()
        if (before.st_size, before.st_mtime_ns) != (
            after.st_size,
            after.st_mtime_ns,
        ) or dst.stat().st_size != after.st_size:
            dst.unlink()
            report.files -= 1
            report.bytes -= before.st_size
            report.landing_skipped.append(src.as_posix())
        return
    if src.is_dir():
        dst.mkdir(parents=True, exist_ok=True)
        for child in sorted(src.iterdir()):
            _copy_tree(child, dst / child.name, report, careful)


def _log_version(name: str) -> int | None:
    """The version a `_delta_log/` entry belongs to: 00000000000000000003.json -> 3."""
    head = name.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _copy_table(src: Path, dst: Path, version: int, report: BackupReport) -> None:
    """The log up to `version` and every data file it adds that still exists; the files of
    `version` itself must all be there."""
    from deltalake import DeltaTable

    log = src / "_delta_log"
    added: set[str] = set()
    for entry in sorted(log.iterdir()):
        v = _log_version(entry.name)
        if v is None or v > version or not entry.is_file():
            continue  # _last_checkpoint may name a newer checkpoint: readers list the log instead
        _copy_file(entry, dst / "_delta_log" / entry.name, report)
        if entry.name.endswith(".json"):
            for line in entry.read_text(encoding="utf-8").splitlines():
                action = json.loads(line) if line.strip() else {}
                if "add" in action:
                    added.add(action["add"]["path"])
    current = {lake.relative(src, uri) for uri in DeltaTable(str(src), version=version).file_uris()}
    for rel in sorted(added | current):
        path = src / rel
        if path.is_file():
            _copy_file(path, dst / rel, report)
        elif rel in current:
            raise RatError(f"{src}: version {version} lost its file {rel} while being backed up; run the backup again")


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with open(Path(folder) / name, "rb") as fh:
                os.fsync(fh.fileno())


def restore(backup: Path, target: Path) -> dict[str, int]:
    """Bring a backup back as the workspace `target` (new or empty); the tables and versions."""
    manifest_path = backup / MANIFEST
    if not manifest_path.is_file():
        raise RatError(f"{backup}: not a rat backup (no {MANIFEST}); name the folder `rat backup` wrote")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not (backup / CONFIG_NAME).is_file() or not (backup / ".rat" / "state.sqlite").is_file():
        raise RatError(f"{backup}: the backup is incomplete (no {CONFIG_NAME} or state); use another one")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RatError(f"{target}: already exists and is not empty; restore into a new folder")
    partial = partial_of(target)
    if partial.exists():
        shutil.rmtree(partial)
    shutil.copytree(backup, partial, symlinks=False)
    (partial / MANIFEST).unlink()
    tables: dict[str, int] = {name: int(v) for name, v in manifest["tables"].items()}
    for name, version in tables.items():
        found = lake.latest_version(partial / "lake" / Path(*name.split(".", 1)))
        if found != version:
            shutil.rmtree(partial)
            raise RatError(f"{backup}: {name} should be at version {version} but is at {found}; the backup is damaged")
    _fsync_tree(partial)
    if target.exists():
        target.rmdir()
    partial.rename(target)
    return tables
