"""`.rat/quarantine/<run>/`: landing files rat could not read, each with the reason beside it.

A quarantined file stays there, and `rat status` keeps showing it (and `rat status --check` exits
non-zero), until the user has dealt with it: fixed and dropped again, or deleted from quarantine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rat_tui.engine.ingest.landing import LandingFile, file_digest

if TYPE_CHECKING:
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace


@dataclass(frozen=True)
class QuarantinedFile:
    """A file waiting in quarantine."""

    path: str  # where it was in landing/
    table: str
    reason: str
    run_id: str
    at: str
    moved_to: str  # relative to the workspace: .rat/quarantine/<run>/<path>


def quarantine(ws: Workspace, state: State, f: LandingFile, reason: str, run_id: str) -> tuple[str, str] | None:
    """Move `f` to quarantine with its reason (a copy if landing/ is read-only) and record it in the
    ledger, so it is not retried; return (the one-line reason, where it went), or None if the file
    went away meanwhile (nothing to keep, nothing lost)."""
    reason = " ".join(reason.split("\n")).strip()
    if not f.digest:
        try:
            f.digest = file_digest(f.path)
        except OSError:
            return None
    dest = ws.quarantine / run_id / f.rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.move(str(f.path), dest)
    except OSError:
        try:
            shutil.copy2(f.path, dest)  # a read-only landing: keep a copy, the ledger stops retries
        except OSError:
            pass
    dest.with_name(dest.name + ".reason.txt").write_text(
        f"file: landing/{f.rel}\ntable: {f.table}\nrun: {run_id}\nreason: {reason}\n", encoding="utf-8"
    )
    state.record_files([(f.table, f.digest, f.rel, f.size, f.mtime_ns, "quarantined", None, None, reason, run_id)])
    return reason, dest.relative_to(ws.root).as_posix()


def quarantined_files(ws: Workspace, state: State) -> list[QuarantinedFile]:
    """The files still in quarantine, newest first (from the ledger; those deleted from
    `.rat/quarantine/` since are no longer waiting for anyone)."""
    rows = state.quarantined_rows()
    out: list[QuarantinedFile] = []
    for path, table, reason, run_id, at in rows:
        dest = ws.quarantine / (run_id or "") / path
        if run_id and dest.exists():
            out.append(QuarantinedFile(path, table, reason or "", run_id, at, dest.relative_to(ws.root).as_posix()))
    return out
