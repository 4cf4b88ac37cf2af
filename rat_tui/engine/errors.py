"""Errors the engine raises for a user to read: one sentence, what/where/what to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RatError(Exception):
    """An error caused by the user's input or workspace, shown as one line without a traceback."""


class WorkspaceError(RatError):
    """The workspace is missing or its rat.toml is invalid."""


@dataclass(frozen=True)
class Where:
    """Where an error points: a file relative to the workspace, a line of it when known, and the
    check that failed when a check did. Faces read these fields; they never parse an error's text."""

    file: str | None = None
    line: int | None = None
    check: str | None = None


class ModelError(RatError):
    """A model file cannot be parsed, planned or built; `where` names its file and line."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.where = Where(file, line)

    @classmethod
    def at(cls, file: str, line: int | None, text: str) -> ModelError:
        """`<file>:<line>: <text>` (the line left out when unknown), with both kept as fields."""
        return cls(f"{file}{f':{line}' if line else ''}: {text}", file, line)


class QueryError(RatError):
    """A query failed (bad SQL, unknown table, ...)."""


class LockedError(RatError):
    """Another process holds the workspace's writer lock: `pid` and `role` say which, as its lock
    file names it (a role of SERVING_ROLES takes the work of others as requests)."""

    def __init__(self, message: str, pid: int | None = None, role: str = "run") -> None:
        super().__init__(message)
        self.pid = pid
        self.role = role


class StorageError(RatError):
    """The machine refused a read or a write (a full disk, a read-only mount, no permission, a
    locked state database). Nothing half-written was published; the files wait in landing/."""


# (errno, words of libraries that do not keep the errno, what happened, what to do about it)
_FAULTS = (
    (
        28,
        ("no space left on device", "os error 28", "database or disk is full"),
        "no space left on the device",
        "free some space on it",
    ),
    (122, ("disk quota exceeded", "os error 122"), "the disk quota is exceeded", "free some space or raise the quota"),
    (
        30,
        ("read-only file system", "os error 30", "readonly database"),
        "the file system is read-only",
        "make it writable (remount it read-write)",
    ),
    (13, ("permission denied", "os error 13"), "permission denied", "give the user running rat write access to it"),
)


def chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the errors it came from (its cause, or the error being handled when it was
    raised), each once, nearest first."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in out):
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def storage_fault(exc: BaseException) -> tuple[str, str] | None:
    """(what happened, what to do) when `exc`, or an error it came from, is the disk refusing a write."""
    for current in chain(exc):
        code = current.errno if isinstance(current, OSError) else None
        text = str(current).lower()
        for number, words, what, todo in _FAULTS:
            if code == number or any(w in text for w in words):
                return what, todo
    return None


def fault_path(exc: BaseException) -> str | None:
    """The file an OSError in `exc`'s chain names, if any."""
    return next((str(e.filename) for e in chain(exc) if isinstance(e, OSError) and e.filename), None)


def explain(exc: BaseException, root: Path | None, state_timeout: float | None = None) -> str | None:
    """One line for an error of the machine rather than of rat (the state database locked or not
    writable, a disk full or read-only), naming where and what to do; None for anything else."""
    import sqlite3

    def where(path: str | Path) -> str:
        p = Path(path)
        if root is not None and p.is_absolute() and p.is_relative_to(root):
            parts = p.relative_to(root).parts
            return "/".join(parts[:3] if parts[:1] == ("lake",) else parts)  # lake/<layer>/<table>
        return str(p)

    state = next((e for e in chain(exc) if isinstance(e, sqlite3.Error)), None)
    if state is not None:
        db = where(root / ".rat" / "state.sqlite") if root is not None else ".rat/state.sqlite"
        text = str(state).lower()
        if "locked" in text or "busy" in text:
            waited = f"rat waited {state_timeout:g}s for it" if state_timeout is not None else "rat waited for it"
            return (
                f"{db} is locked by another process ({waited}: `state_timeout` in rat.toml); "
                f"let that process finish or stop it (`fuser {db}` names it), then run again"
            )
        fault = storage_fault(state)
        if fault is None and "disk i/o error" in text and root is not None and _free_bytes(root / ".rat") < 1 << 20:
            fault = _FAULTS[0][2], _FAULTS[0][3]  # SQLite reports a full disk under WAL as an I/O error
        if fault is not None:
            return f"cannot write {db}: {fault[0]}; {fault[1]}, then run again"
        if "disk i/o error" in text:
            return f"cannot write {db}: disk I/O error; check the disk (dmesg, df), then run again"
        return None
    fault = storage_fault(exc)
    path = fault_path(exc)
    if fault is None or path is None:
        return None
    return f"cannot write {where(path)}: {fault[0]}; {fault[1]}, then run again (nothing half-written was published)"


def _free_bytes(path: Path) -> int:
    import os

    try:
        st = os.statvfs(path)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


def first_line(exc: BaseException) -> str:
    """An exception's first non-blank line, or its type's name when it says nothing."""
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
