"""Engine state in `.rat/state.sqlite` (WAL): runs, model builds, the ingested-file ledger, source pulls;
the requests handed to the writer are request_queue.py's, mixed into `State`."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rat_tui.engine.request_queue import RequestQueue

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,           -- running | ok | failed | noop
    command TEXT,
    files_ingested INTEGER DEFAULT 0,
    files_quarantined INTEGER DEFAULT 0,
    models_built INTEGER DEFAULT 0,
    models_failed INTEGER DEFAULT 0,
    error TEXT
);
CREATE TABLE IF NOT EXISTS model_runs (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,           -- ok | failed | check_failed | skipped
    rows_out INTEGER,
    version INTEGER,
    error TEXT,
    mode TEXT,                      -- full | incremental
    rows_in INTEGER,                -- rows read: the inputs', or only the new rows when incremental
    fingerprint TEXT,               -- the model's fingerprint this build tried
    inputs TEXT,                    -- JSON {table: version} it read
    PRIMARY KEY (run_id, model)
);
CREATE TABLE IF NOT EXISTS check_results (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,         -- error | warn
    status TEXT NOT NULL,           -- pass | fail | error
    failing INTEGER NOT NULL,
    sample TEXT,                    -- JSON: a few failing rows
    message TEXT,
    PRIMARY KEY (run_id, model, name)
);
CREATE TABLE IF NOT EXISTS model_state (
    model TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    inputs TEXT NOT NULL,           -- JSON {table: version} the last good build read
    materialized TEXT NOT NULL,
    view_sql TEXT,                  -- for views: the SQL the session defines
    built_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    table_version INTEGER           -- the table's version this build published
);
CREATE TABLE IF NOT EXISTS ingested_files (
    table_name TEXT NOT NULL,
    hash TEXT NOT NULL,
    path TEXT NOT NULL,             -- relative to landing/
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL,           -- ingested | quarantined
    batch_id TEXT,
    rows INTEGER,
    reason TEXT,
    run_id TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (table_name, hash)
);
CREATE INDEX IF NOT EXISTS ingested_files_path ON ingested_files (path, size, mtime_ns);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_at TEXT NOT NULL,
    pid INTEGER,                    -- the process that asked
    selectors TEXT NOT NULL,        -- JSON list
    full_refresh INTEGER NOT NULL,
    status TEXT NOT NULL,           -- pending | running | ok | failed | noop
    run_id TEXT,
    finished_at TEXT,
    message TEXT,
    kind TEXT NOT NULL DEFAULT 'run',  -- run | rollback | vacuum
    args TEXT,                      -- JSON: rollback {"table", "version"}, vacuum {"retain_hours"}
    result TEXT                     -- JSON: rollback {"version"}, vacuum {"deleted": {table: files}}
);
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    sql TEXT NOT NULL,
    rows INTEGER,
    seconds REAL NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS source_pulls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,           -- [sources.<name>] in rat.toml
    run_id TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL,           -- ok | empty | failed
    records INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    file TEXT,                      -- the landing file written, relative to landing/
    error TEXT                      -- redacted: never a secret, a resolved URL, header or body
);
CREATE INDEX IF NOT EXISTS source_pulls_source ON source_pulls (source, id);
CREATE TABLE IF NOT EXISTS table_formats (
    table_name TEXT PRIMARY KEY,    -- a bronze table
    decimal TEXT NOT NULL,          -- the decimal mark its landing files write numbers with: . or ,
    source TEXT NOT NULL,           -- configured | file | separator | default: what settled it
    file TEXT,                      -- the landing file that settled it
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    version INTEGER NOT NULL,       -- the table's version that made the change
    run_id TEXT,
    at TEXT NOT NULL,
    column_name TEXT NOT NULL,
    change TEXT NOT NULL,           -- added | widened | nested
    old_type TEXT,
    new_type TEXT NOT NULL,
    file TEXT NOT NULL,             -- the landing file that caused it, relative to landing/
    example TEXT                    -- a value of that file the old type could not hold
);
CREATE TABLE IF NOT EXISTS seen_files (
    path TEXT PRIMARY KEY,          -- relative to landing/; a file whose size and mtime match is not hashed again
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""


# Columns added to a table after rat first made it: (table, column, declaration). A state.sqlite
# made by an older rat lacks them, and CREATE TABLE IF NOT EXISTS does not add them.
ADDED_COLUMNS = (
    ("requests", "kind", "TEXT NOT NULL DEFAULT 'run'"),
    ("requests", "args", "TEXT"),
    ("requests", "result", "TEXT"),
    ("model_runs", "fingerprint", "TEXT"),
    ("model_runs", "inputs", "TEXT"),
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds between two of the timestamps this module writes (None if either is missing)."""
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def new_run_id() -> str:
    """Sortable and unique enough for one workspace: UTC time to the microsecond."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


class State(RequestQueue):
    """A connection to state.sqlite; each process opens its own."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # How long a statement waits while another process holds the database locked (a backup,
        # a sqlite3 shell) before it fails with "database is locked": `state_timeout` in rat.toml.
        self.timeout = timeout
        self.db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        # Turning the write-ahead log on needs the database to itself, and SQLite fails at once
        # instead of waiting (no busy handler): processes creating a fresh workspace's state
        # database together retry it, within the same timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        """Add the ADDED_COLUMNS an older rat's state.sqlite lacks. Looked for first, so an
        up-to-date database is not written to; then again inside one write transaction, so two
        processes opening an old database at once add each column once."""

        def missing() -> list[tuple[str, str, str]]:
            have: dict[str, set[str]] = {}
            for table, _, _ in ADDED_COLUMNS:
                if table not in have:
                    have[table] = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            return [(t, c, d) for t, c, d in ADDED_COLUMNS if c not in have[t]]

        if not missing():
            return
        with self.transaction():
            for table, column, declaration in missing():
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        self.db.close()

    # Runs.
    def start_run(self, run_id: str, command: str) -> None:
        self.db.execute(
            "INSERT INTO runs (run_id, started_at, status, command) VALUES (?, ?, 'running', ?)",
            (run_id, now_iso(), command),
        )

    def finish_run(self, run_id: str, status: str, **counts: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in counts)
        sets = "finished_at = ?, status = ?" + (", " + cols if cols else "")
        self.db.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", (now_iso(), status, *counts.values(), run_id))

    def settle_interrupted(self) -> None:
        """Runs and served requests still marked running were a dead process's: mark them failed.
        Only the holder of the writer lock runs, so call this right after taking it."""
        error = "interrupted: the process ended before the run finished"
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE status = 'running'",
                (now_iso(), error),
            )
            self.db.execute(
                "UPDATE requests SET status = 'failed', finished_at = ?, message = ? WHERE status = 'running'",
                (now_iso(), error),
            )

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY run_id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    # Model builds.
    def record_model_run(
        self,
        run_id: str,
        model: str,
        started_at: str,
        status: str,
        rows_out: int | None = None,
        version: int | None = None,
        error: str | None = None,
        mode: str | None = None,
        rows_in: int | None = None,
        attempt: tuple[str, dict[str, int]] | None = None,
    ) -> None:
        """One build of a model; `attempt` is the (fingerprint, input versions) it built or tried."""
        fingerprint, inputs = attempt if attempt is not None else (None, None)
        self.db.execute(
            "INSERT OR REPLACE INTO model_runs (run_id, model, started_at, finished_at, status, rows_out, version,"
            " error, mode, rows_in, fingerprint, inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                model,
                started_at,
                now_iso(),
                status,
                rows_out,
                version,
                error,
                mode,
                rows_in,
                fingerprint,
                None if inputs is None else json.dumps(inputs, sort_keys=True),
            ),
        )

    def record_checks(self, run_id: str, model: str, results: list[Any]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        model,
                        r.name,
                        r.severity,
                        r.status,
                        r.failing,
                        json.dumps(r.sample, default=str),
                        r.message,
                    )
                    for r in results
                ],
            )

    def check_results(self, run_id: str, model: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM check_results WHERE run_id = ?" + (" AND model = ?" if model else "")
        rows = self.db.execute(sql, (run_id, model) if model else (run_id,)).fetchall()
        return [{**dict(r), "sample": json.loads(r["sample"] or "[]")} for r in rows]

    def last_model_runs(self) -> dict[str, dict[str, Any]]:
        """The newest build record per model (skips included)."""
        rows = self.db.execute(
            """SELECT m.* FROM model_runs m
               JOIN (SELECT model, max(run_id) AS run_id FROM model_runs GROUP BY model) last
               USING (model, run_id)"""
        ).fetchall()
        return {r["model"]: dict(r) for r in rows}

    def last_attempts(self) -> dict[str, dict[str, Any]]:
        """The newest build that tried each model (skips left out), with the fingerprint and inputs
        it tried: what `rat status` compares the model with now."""
        rows = self.db.execute(
            """SELECT m.* FROM model_runs m
               JOIN (SELECT model, max(run_id) AS run_id FROM model_runs WHERE status <> 'skipped' GROUP BY model) last
               USING (model, run_id)"""
        ).fetchall()
        return {r["model"]: {**dict(r), "inputs": json.loads(r["inputs"]) if r["inputs"] else None} for r in rows}

    def model_state(self, model: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM model_state WHERE model = ?", (model,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["inputs"] = json.loads(out["inputs"])
        return out

    def all_model_states(self) -> dict[str, dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM model_state").fetchall()
        return {r["model"]: {**dict(r), "inputs": json.loads(r["inputs"])} for r in rows}

    def set_model_state(
        self,
        model: str,
        fingerprint: str,
        inputs: dict[str, int],
        materialized: str,
        view_sql: str | None,
        run_id: str,
        table_version: int | None = None,
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO model_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                model,
                fingerprint,
                json.dumps(inputs, sort_keys=True),
                materialized,
                view_sql,
                now_iso(),
                run_id,
                table_version,
            ),
        )

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
        at = now_iso()
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
            "INSERT OR REPLACE INTO table_formats VALUES (?, ?, ?, ?, ?)", (table, decimal, source, file, now_iso())
        )

    def record_schema_changes(self, table: str, version: int, run_id: str | None, changes: list[Any]) -> None:
        at = now_iso()
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

    # Pulls of sources (rat.toml's [sources]): what each did, never what it sent.
    def record_pull(
        self,
        source: str,
        run_id: str | None,
        started_at: str,
        status: str,
        records: int,
        pages: int,
        file: str | None,
        error: str | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO source_pulls (source, run_id, started_at, finished_at, status, records, pages, file, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (source, run_id, started_at, now_iso(), status, records, pages, file, error),
        )

    def last_pulls(self) -> dict[str, dict[str, Any]]:
        """The newest pull of each source."""
        rows = self.db.execute(
            "SELECT p.* FROM source_pulls p JOIN (SELECT source, max(id) AS id FROM source_pulls GROUP BY source)"
            " USING (source, id)"
        ).fetchall()
        return {r["source"]: dict(r) for r in rows}

    # The workbench's query history.
    def record_query(self, sql: str, rows: int | None, seconds: float, error: str | None) -> None:
        self.db.execute(
            "INSERT INTO queries (at, sql, rows, seconds, error) VALUES (?, ?, ?, ?, ?)",
            (now_iso(), sql, rows, seconds, error),
        )

    def query_history(self, limit: int = 500) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM queries ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def transaction(self) -> _Tx:
        return _Tx(self.db, self.timeout)


class _Tx:
    def __init__(self, db: sqlite3.Connection, timeout: float) -> None:
        self.db = db
        self.timeout = timeout

    def __enter__(self) -> None:
        # BEGIN IMMEDIATE waits up to the connection's timeout itself; retry only within that
        # same bound (a lock held longer fails once, after `timeout`, not 50 times over).
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
