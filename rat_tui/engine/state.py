"""Engine state in `.rat/state.sqlite` (WAL): runs, model builds, the ingested-file ledger, source pulls;
the requests handed to the writer are request_queue.py's, mixed into `State`."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rat_tui.engine.clock import now_iso
from rat_tui.engine.errors import Where
from rat_tui.engine.landing_records import LandingRecords
from rat_tui.engine.records import CheckRecord, Fingerprint, ModelBuild, PullRecord, QueryRecord, RunRecord
from rat_tui.engine.request_queue import RequestQueue
from rat_tui.engine.state_schema import ADDED_COLUMNS, SCHEMA


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds between two of the timestamps this module writes (None if either is missing)."""
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def new_run_id() -> str:
    """Sortable and unique enough for one workspace: UTC time to the microsecond."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


class State(RequestQueue, LandingRecords):
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

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        """The newest runs first."""
        rows = self.db.execute("SELECT * FROM runs ORDER BY run_id DESC LIMIT ?", (limit,)).fetchall()
        return [RunRecord.from_row(r) for r in rows]

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
        where: Where | None = None,
    ) -> None:
        """One build of a model; `attempt` is the (fingerprint, input versions) it built or tried,
        `where` the file, line and check its error points at."""
        fingerprint, inputs = attempt if attempt is not None else (None, None)
        where = where or Where()
        self.db.execute(
            "INSERT OR REPLACE INTO model_runs (run_id, model, started_at, finished_at, status, rows_out, version,"
            " error, mode, rows_in, fingerprint, inputs, error_file, error_line, error_check)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                where.file,
                where.line,
                where.check,
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

    def run(self, run_id: str) -> RunRecord | None:
        row = self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else RunRecord.from_row(row)

    def model_runs_of(self, run_id: str) -> list[ModelBuild]:
        """Every model build of one run, in the order they started."""
        rows = self.db.execute("SELECT * FROM model_runs WHERE run_id = ? ORDER BY started_at", (run_id,))
        return [ModelBuild.from_row(r) for r in rows.fetchall()]

    def check_results(self, run_id: str, model: str | None = None) -> list[CheckRecord]:
        sql = "SELECT * FROM check_results WHERE run_id = ?" + (" AND model = ?" if model else "")
        rows = self.db.execute(sql, (run_id, model) if model else (run_id,)).fetchall()
        return [CheckRecord.from_row({**dict(r), "sample": json.loads(r["sample"] or "[]")}) for r in rows]

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
        fingerprint: Fingerprint,
        inputs: dict[str, int],
        materialized: str,
        view_sql: str | None,
        run_id: str,
        table_version: int | None = None,
        rebuilt: bool = True,
    ) -> None:
        """A model's last good build; `rebuilt` False for a re-check, which keeps when it was built."""
        built_at = now_iso()
        if not rebuilt:
            row = self.db.execute("SELECT built_at FROM model_state WHERE model = ?", (model,)).fetchone()
            built_at = row["built_at"] if row is not None else built_at
        self.db.execute(
            "INSERT OR REPLACE INTO model_state (model, fingerprint, inputs, materialized, view_sql, built_at,"
            " run_id, table_version, checks_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                model,
                fingerprint.data,
                json.dumps(inputs, sort_keys=True),
                materialized,
                view_sql,
                built_at,
                run_id,
                table_version,
                fingerprint.checks,
            ),
        )

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

    def pull_failures(self) -> dict[str, int]:
        """How many pulls of each source failed in a row, up to its newest (sources whose newest
        pull worked are left out)."""
        rows = self.db.execute(
            """SELECT source, count(*) AS n FROM source_pulls p
               WHERE status = 'failed' AND id > coalesce(
                   (SELECT max(id) FROM source_pulls q WHERE q.source = p.source AND q.status <> 'failed'), 0)
               GROUP BY source"""
        ).fetchall()
        return {r["source"]: r["n"] for r in rows}

    def last_pulls(self) -> dict[str, PullRecord]:
        """The newest pull of each source."""
        rows = self.db.execute(
            "SELECT p.* FROM source_pulls p JOIN (SELECT source, max(id) AS id FROM source_pulls GROUP BY source)"
            " USING (source, id)"
        ).fetchall()
        return {r["source"]: PullRecord.from_row(r) for r in rows}

    # The workbench's query history.
    def record_query(self, sql: str, rows: int | None, seconds: float, error: str | None) -> None:
        self.db.execute(
            "INSERT INTO queries (at, sql, rows, seconds, error) VALUES (?, ?, ?, ?, ?)",
            (now_iso(), sql, rows, seconds, error),
        )

    def query_history(self, limit: int = 500) -> list[QueryRecord]:
        rows = self.db.execute("SELECT * FROM queries ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [QueryRecord.from_row(r) for r in rows]

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
