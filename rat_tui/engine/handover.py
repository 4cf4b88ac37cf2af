"""Work handed to the writer: while `rat watch` or the workbench holds the writer lock (they hold it
until stopped), `rat run`, `rat rollback` and `rat vacuum` ask that writer to do their work, as a row
of state's `requests`, and wait for the outcome. The writer carries requests out between its own
runs (`Watcher._serve_requests`), so nothing else ever writes while it does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rat_tui.engine.errors import LockedError, RatError, explain, first_line
from rat_tui.engine.workspace import SERVING_ROLES, Workspace, pid_alive, writer_name

if TYPE_CHECKING:
    from rat_tui.engine.state import State


class Writer(Protocol):
    """What handing work over needs of the engine (rat_tui.engine.Engine is one)."""

    ws: Workspace

    @property
    def state(self) -> State: ...

    def run(
        self,
        selectors: list[str] | None = None,
        full_refresh: bool = False,
        files: set[str] | None = None,
        sources: Sequence[str] | None = None,
        full_pull: bool = False,
    ) -> Any: ...

    def rollback(self, table: str, version: int) -> int: ...

    def vacuum(self, retain_hours: int) -> dict[str, int]: ...

    def backup_snapshot(self, state_copy: Path) -> dict[str, int]: ...


@dataclass(frozen=True)
class Outcome:
    """How a request ended, as the writer recorded it."""

    request_id: int
    kind: str  # run | pull | rollback | vacuum
    status: str  # ok | noop | failed
    run_id: str | None = None
    message: str | None = None  # why it failed, one line
    result: dict[str, Any] = field(default_factory=dict)  # rollback {"table", "version"}; vacuum {"deleted"}


def ask(
    engine: Writer,
    locked: LockedError,
    kind: str,
    args: dict[str, Any] | None = None,
    selectors: list[str] | None = None,
    full_refresh: bool = False,
) -> int:
    """Hand the work to the writer whose lock refused us; return the request's id. Re-raise `locked`
    when that writer takes no requests (a `rat run` or a rollback finishes and lets go: wait for it)."""
    if locked.role not in SERVING_ROLES:
        raise locked
    return engine.state.add_request(list(selectors or []), full_refresh, os.getpid(), kind, args)


def wait(engine: Writer, request_id: int, locked: LockedError, timeout: float = 3600.0) -> Outcome:
    """Block until the writer has carried the request out. RatError when it stopped before it did
    (its pid gone: the request is marked failed, so no later writer does it unasked) or took longer
    than `timeout` seconds."""
    state = engine.state
    pid, role = locked.pid, locked.role
    deadline = time.monotonic() + timeout
    while True:
        row = state.request(request_id)
        if row is None:
            raise RatError(f"request {request_id} is gone from .rat/state.sqlite; run the command again")
        kind = row["kind"]
        if row["status"] not in ("pending", "running"):
            return Outcome(request_id, kind, row["status"], row["run_id"], row["message"], row["result"])
        if pid is not None and not pid_alive(pid):
            doing = "finishing" if row["status"] == "running" else "doing"
            writer = "the workbench" if role == "workbench" else "the watcher"
            if state.fail_open_request(request_id, f"{writer} stopped before {doing} it"):
                raise RatError(f"{writer_name(role, pid)} stopped before {doing} the {kind}; run `rat {kind}` again")
            continue  # it ended just before the writer did: report how
        if time.monotonic() >= deadline:
            raise RatError(
                f"{writer_name(role, pid)} did not finish request {request_id} within {timeout:.0f}s; see `rat status`"
            )
        time.sleep(0.1)


def carry_out(engine: Writer, request: dict[str, Any]) -> Outcome:
    """Do what a claimed request asks, as the writer (the engine holds the lock)."""
    request_id, kind, args = request["id"], request["kind"], request["args"]
    try:
        if kind in ("run", "pull"):
            if kind == "pull":  # the named sources, and only the files they land
                report = engine.run([], files=set(), sources=list(args["sources"]), full_pull=bool(args.get("full")))
            else:
                report = engine.run(request["selectors"], full_refresh=bool(request["full_refresh"]))
            failures = {**report.failed, **{f"source {n}": e for n, e in report.sources_failed.items()}}
            message = "; ".join(f"{m}: {e}" for m, e in failures.items()) or None
            return Outcome(request_id, kind, report.status, report.run_id, message)
        if kind == "rollback":
            version = engine.rollback(str(args["table"]), int(args["version"]))
            return Outcome(request_id, kind, "ok", result={"table": args["table"], "version": version})
        if kind == "backup":  # only the consistent moment: the asker copies the rest
            tables = engine.backup_snapshot(Path(str(args["state"])))
            return Outcome(request_id, kind, "ok", result={"tables": tables})
        if kind == "vacuum":
            deleted = engine.vacuum(int(args["retain_hours"]))
            return Outcome(request_id, kind, "ok" if deleted else "noop", result={"deleted": deleted})
    except RatError as exc:
        return Outcome(request_id, kind, "failed", message=str(exc))
    except Exception as exc:
        if kind in ("run", "pull"):
            raise  # as a run of the writer's own: the engine's fault, not the request's
        # A rollback or a vacuum that breaks breaks alone: the writer goes on, the asker is told.
        ws = engine.ws
        why = explain(exc, ws.root, ws.settings.state_timeout) or f"{type(exc).__name__}: {first_line(exc)}"
        return Outcome(request_id, kind, "failed", message=f"the {kind} failed: {why}")
    return Outcome(
        request_id, kind, "failed", message=f"this rat cannot do a {kind!r} request; run the same rat version"
    )
