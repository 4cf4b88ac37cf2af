"""The landing tables of state.sqlite: the ledger of ingested files, the hashes of files seen, how
each bronze table's files write numbers, and the schema changes files made. `State` mixes it in,
so every query of state still goes through one object."""

from __future__ import annotations

import sqlite3
from typing import Any

from rat_tui.engine.clock import now_iso


def _now() -> str:

    return now_iso()


class LandingRecords:
    """The landing methods of `State` (which provides `db` and `transaction()`)."""

    db: sqlite3.Connection

    def transaction(self) -> Any:
        raise NotImplementedError

    # The ledger of landing files.
    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The content hash of a landing file seen before with the same size and mtime."""
        row = self.db.execute(
            "SELECT hash FROM seen_files WHERE path = ? AND size = ? AND mtime_ns = ?", (path, size, mtime_ns)
        ).fetchone()
        return row[0] if row else None

    def remember_hash(self, path: str, size: int, mtime_ns: int, digest: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO seen_files VALUES (?, ?, ?, ?)", (path, size, mtime_ns, digest))

    def ledger_has(self, table_name: str, digest: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM ingested_files WHERE table_name = ? AND hash = ?", (table_name, digest)
        ).fetchone()
        return row is not None

    def record_files(self, rows: list[tuple]) -> None:
        """Ledger rows: (table, hash, path, size, mtime_ns, status, batch_id, rows, reason, run_id)."""
        at = _now()
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*r, at) for r in rows],
            )

    # How each bronze table's files write numbers, and the schema changes files made.
    def number_format(self, table: str) -> tuple[str, str] | None:
        """(decimal mark, what settled it) of a bronze table, if its files have needed one."""
        row = self.db.execute("SELECT decimal, source FROM table_formats WHERE table_name = ?", (table,)).fetchone()
        return (row[0], row[1]) if row else None

    def set_number_format(self, table: str, decimal: str, source: str, file: str | None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO table_formats VALUES (?, ?, ?, ?, ?)", (table, decimal, source, file, _now())
        )

    def record_schema_changes(self, table: str, version: int, run_id: str | None, changes: list[Any]) -> None:
        at = _now()
        with self.transaction():
            self.db.executemany(
                "INSERT INTO schema_changes (table_name, version, run_id, at, column_name, change, old_type, new_type,"
                " file, example) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (table, version, run_id, at, c.column, c.change, c.old_type, c.new_type, c.file, c.example)
                    for c in changes
                ],
            )

    def schema_changes(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest schema changes, newest first."""
        rows = self.db.execute("SELECT * FROM schema_changes ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def files_of(self, table: str, limit: int = 100) -> list[tuple[str, int | None, str, str]]:
        """(path, rows, status, at) of the files the ledger holds for a bronze table, newest first."""
        return self.db.execute(
            "SELECT path, rows, status, at FROM ingested_files WHERE table_name = ? ORDER BY at DESC, path LIMIT ?",
            (table, limit),
        ).fetchall()

    def quarantined_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(path, table, reason, run_id, at) of every file the ledger holds as quarantined, newest first."""
        return self.db.execute(
            "SELECT path, table_name, reason, run_id, at FROM ingested_files WHERE status = 'quarantined' "
            "ORDER BY at DESC, path"
        ).fetchall()

    def pending_batches(self) -> list[tuple[str, str]]:
        """(table, batch_id) of the ingests a crash left pending."""
        return self.db.execute(
            "SELECT DISTINCT table_name, batch_id FROM ingested_files WHERE status = 'pending'"
        ).fetchall()

    def settle_batch(self, batch_id: str, committed: bool) -> None:
        """A pending batch's files: ingested when its commit landed, else forgotten (they are ingested again)."""
        if committed:
            self.db.execute(
                "UPDATE ingested_files SET status = 'ingested' WHERE batch_id = ? AND status = 'pending'", (batch_id,)
            )
        else:
            self.db.execute("DELETE FROM ingested_files WHERE batch_id = ? AND status = 'pending'", (batch_id,))
