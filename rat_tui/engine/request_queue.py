"""The `requests` table of state.sqlite: the work a process that cannot write hands to the writer
(`rat watch`, the workbench), a run, a rollback or a vacuum, and how it ended. `State` mixes it in,
so every query of state still goes through one object."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from rat_tui.engine.clock import now_iso


def _now() -> str:

    return now_iso()


class RequestQueue:
    """The requests methods of `State` (which provides `db` and `transaction()`)."""

    db: sqlite3.Connection

    def transaction(self) -> Any:
        raise NotImplementedError

    def add_request(
        self, selectors: list[str], full_refresh: bool, pid: int, kind: str = "run", args: dict | None = None
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO requests (requested_at, pid, selectors, full_refresh, status, kind, args)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (_now(), pid, json.dumps(selectors), int(full_refresh), kind, json.dumps(args or {})),
        )
        return int(cur.lastrowid or 0)

    def claim_request(self) -> dict[str, Any] | None:
        """The oldest pending request, marked running (by this process only)."""
        with self.transaction():
            row = self.db.execute("SELECT * FROM requests WHERE status = 'pending' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            self.db.execute("UPDATE requests SET status = 'running' WHERE id = ?", (row["id"],))
        return {**_request_row(row), "status": "running"}

    def finish_request(
        self, request_id: int, status: str, run_id: str | None, message: str | None, result: dict | None = None
    ) -> None:
        self.db.execute(
            "UPDATE requests SET status = ?, run_id = ?, finished_at = ?, message = ?, result = ? WHERE id = ?",
            (status, run_id, _now(), message, json.dumps(result or {}), request_id),
        )

    def fail_open_request(self, request_id: int, message: str) -> bool:
        """Mark the request failed if it is still pending or running (its writer died); False when it
        has ended meanwhile."""
        cur = self.db.execute(
            "UPDATE requests SET status = 'failed', finished_at = ?, message = ?"
            " WHERE id = ? AND status IN ('pending', 'running')",
            (_now(), message, request_id),
        )
        return cur.rowcount > 0

    def request(self, request_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        return _request_row(row) if row else None


def _request_row(row: sqlite3.Row) -> dict[str, Any]:
    """A requests row with its JSON columns read."""
    out = dict(row)
    for column, empty in (("selectors", "[]"), ("args", "{}"), ("result", "{}")):
        out[column] = json.loads(out.get(column) or empty)
    return out
