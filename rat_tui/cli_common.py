"""What the `rat` commands share: exit codes, the stderr line, the engine of `-w`, handing work to
the writer that holds the lock."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def err(message: str) -> None:
    sys.stderr.write(f"rat: {message}\n")
    sys.stderr.flush()


def workspace_arg(args: argparse.Namespace) -> Path | None:
    value = getattr(args, "workspace", None)
    return Path(value) if value else None


def engine_for(args: argparse.Namespace) -> Any:
    from rat_tui.engine import Engine

    return Engine.open(workspace_arg(args))


def usage(message: str) -> Exception:
    from rat_tui.engine.errors import RatError

    return RatError(message)


def hand_over(engine: Any, locked: Any, kind: str, **work: Any) -> Any:
    """Ask the watcher or workbench whose lock refused this command to do it; wait for its Outcome.
    Re-raises `locked` when the holder takes no requests; the Outcome of a rollback or vacuum that
    failed is raised as its error, as when it fails here."""
    from rat_tui.engine.errors import RatError
    from rat_tui.engine.workspace import writer_name

    request = engine.hand_over(locked, kind, **work)
    holder = writer_name(locked.role, locked.pid)
    err(f"{holder} is writing to this workspace; asked it to do this {kind} (request {request})")
    outcome = engine.wait_for_request(request, locked)
    if kind != "run" and outcome.status == "failed":
        raise RatError(outcome.message or f"{holder} could not do the {kind}")
    return outcome
