"""The run's ingest step: what waits in landing/ -> bronze, one commit per table (per large file).

Each file is ingested once: a ledger in state.sqlite keyed by (table, content hash). Small files for
one table go into one commit; a large file is streamed into a commit of its own so memory stays
bounded. A file that cannot be read is quarantined with its reason; the others still land.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import StorageError, chain, fault_path, first_line, storage_fault
from rat_tui.engine.events import (
    EventBus,
    FileQuarantined,
    FileSkipped,
    FileUnreadable,
    Progress,
    SchemaChanged,
    TableIngested,
)
from rat_tui.engine.ingest import reader
from rat_tui.engine.ingest.batch import SinkFailed, plan_batch, stage
from rat_tui.engine.ingest.frames import Read
from rat_tui.engine.ingest.landing import LandingFile, file_digest, file_kind, scan_landing
from rat_tui.engine.ingest.numbers import NumberFormat
from rat_tui.engine.ingest.quarantine import quarantine
from rat_tui.engine.ingest.schema import SchemaChange
from rat_tui.engine.ingest.text import UnreadableFile
from rat_tui.engine.landing_options import LandingOptions, options_for
from rat_tui.engine.sources.cursor import STATE_KEY, committed_state

if TYPE_CHECKING:
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace


@dataclass
class IngestResult:
    ingested: list[LandingFile] = field(default_factory=list)
    quarantined: list[tuple[LandingFile, str]] = field(default_factory=list)
    skipped: list[LandingFile] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # table -> new version
    unreadable: list[tuple[LandingFile, str]] = field(default_factory=list)  # left in landing/, retried next run
    schema_changes: dict[str, list[SchemaChange]] = field(default_factory=dict)  # table -> changes

    def merge(self, other: IngestResult | None) -> None:
        """Another ingest of the same run (before a pull: sources/pulling.py), added to this one."""
        if other is None:
            return
        self.ingested = other.ingested + self.ingested
        self.quarantined = other.quarantined + self.quarantined
        self.skipped = other.skipped + self.skipped
        self.unreadable = other.unreadable + self.unreadable
        self.tables = {**other.tables, **self.tables}
        for table, changes in other.schema_changes.items():
            self.schema_changes[table] = changes + self.schema_changes.get(table, [])


def _state_error(exc: BaseException) -> bool:
    """Whether `exc` came from the state database (SQLite), rather than from writing the lake."""
    import sqlite3

    return any(isinstance(e, sqlite3.Error) for e in chain(exc))


class Ingestor:
    """Ingests what waits in landing/ into bronze, one commit per table (per large file)."""

    def __init__(self, ws: Workspace, state: State, bus: EventBus) -> None:
        self.ws = ws
        self.state = state
        self.bus = bus
        # Files rat may not read (permissions): they stay in landing/, the run says so and fails,
        # and the next run tries them again. Not quarantined: nothing is wrong with their content.
        self.unreadable: list[tuple[LandingFile, str]] = []

    def _unreadable(self, f: LandingFile, exc: OSError) -> None:
        reason = (exc.strerror or first_line(exc)).lower()
        self.unreadable.append((f, reason))
        self.bus.emit(FileUnreadable(f.rel, f.table, reason))

    def pending(self, only: set[str] | None = None) -> list[LandingFile]:
        """Landing files not yet in the ledger (hashing only files new or changed since last seen);
        with `only`, just those of these paths under landing/. Files that cannot be opened go to
        `self.unreadable` instead."""
        out = []
        self.unreadable = []
        for f in scan_landing(self.ws):
            if only is not None and f.rel not in only:
                continue
            digest = self.state.known_hash(f.rel, f.size, f.mtime_ns)
            if digest is None and f.size >= reader.STREAM_BYTES and not file_kind(f.path.name)[1]:
                try:
                    open(f.path, "rb").close()  # only whether it opens
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    self._unreadable(f, exc)
                    continue
                out.append(f)  # hashed while it streams into bronze: see _ingest_large
                continue
            if digest is None:
                try:
                    digest = file_digest(f.path)
                except FileNotFoundError:
                    continue  # vanished since the scan
                except OSError as exc:
                    self._unreadable(f, exc)
                    continue
                self.state.remember_hash(f.rel, f.size, f.mtime_ns, digest)
                f.digest = digest
                if self.state.ledger_has(f.table, digest):
                    self.bus.emit(FileSkipped(f.rel, f.table))
                    continue
                out.append(f)
            elif not self.state.ledger_has(f.table, digest):
                f.digest = digest
                out.append(f)
        return out

    def recover(self) -> None:
        """Settle ledger rows left pending by a crash: ingested if their commit landed, else forgotten."""
        for table, batch_id in self.state.pending_batches():
            committed = any(
                h["operation"] == f"ingest {batch_id}" for h in lake.history(self.ws.table_path(table), limit=50)
            )
            self.state.settle_batch(batch_id, committed)

    def run(self, run_id: str, only: set[str] | None = None) -> IngestResult:
        self.recover()
        result = IngestResult()
        by_table: dict[str, list[LandingFile]] = {}
        seen: set[tuple[str, str]] = set()
        for f in self.pending(only):
            if f.digest and (f.table, f.digest) in seen:  # the same bytes twice in one drop
                result.skipped.append(f)
                self.bus.emit(FileSkipped(f.rel, f.table))
                continue
            seen.add((f.table, f.digest))
            by_table.setdefault(f.table, []).append(f)
        total = sum(f.size for files in by_table.values() for f in files)
        done = 0
        result.unreadable = list(self.unreadable)
        for table, files in by_table.items():
            self.bus.emit(Progress("ingest", done, total, table))
            try:
                self._ingest_table(table, files, run_id, result)
            except Exception as exc:
                # The disk refused a write (full, read-only): say where, and stop the run. The table
                # keeps its last version and the files wait in landing/ for the next run. (Errors of
                # the state database are the command line's to explain: they happen anywhere.)
                error = self._storage_error(table, exc)
                if error is None:
                    raise
                raise error from exc
            done += sum(f.size for f in files)
        if total:
            self.bus.emit(Progress("ingest", total, total))
        return result

    # One table.

    def _table_format(self, table: str, opts: LandingOptions) -> NumberFormat | None:
        """How the table's files write numbers: configured, else as its earlier files did."""
        if opts.decimal:
            return NumberFormat(opts.decimal, opts.thousands, "configured")
        stored = self.state.number_format(table)
        return NumberFormat(stored[0], opts.thousands, stored[1]) if stored else None

    def _read(
        self, f: LandingFile, opts: LandingOptions, fmt: NumberFormat | None, run_id: str, result: IngestResult
    ) -> Read | None:
        try:
            return reader.read_file(f, opts, fmt, self.ws.tmp)
        except UnreadableFile as exc:
            self._quarantine(f, str(exc), run_id, result)
            return None

    def _ingest_table(self, table: str, files: list[LandingFile], run_id: str, result: IngestResult) -> None:
        opts = options_for(self.ws.settings.landing, files[0].folder, table)
        fmt = self._table_format(table, opts)
        small: list[tuple[LandingFile, Read]] = []
        for f in files:
            read = self._read(f, opts, fmt, run_id, result)
            if read is None:
                continue
            if read.lazy:
                self._ingest_large(table, f, read, opts, fmt, run_id, result)
                fmt = self._table_format(table, opts)  # it may have settled the table's number format
            else:
                small.append((f, read))
        if not small:
            return
        if fmt is None:
            # The first file whose own values show the decimal mark settles it for the batch (before a
            # guess from another file's separator); files read otherwise are read again that way.
            deciding = [(f, r) for f, r in small if r.depends_on_format and r.number_format is not None]
            if deciding:
                first, shown = next(((f, r) for f, r in deciding if r.evidence), deciding[0])
                assert shown.number_format is not None
                fmt = replace(shown.number_format, source="table")
                self.state.set_number_format(table, fmt.decimal, shown.number_format.source, first.rel)
                again: list[tuple[LandingFile, Read]] = []
                for f, r in small:
                    if r.depends_on_format and r.number_format is not None and r.number_format.decimal != fmt.decimal:
                        reread = self._read(f, opts, fmt, run_id, result)
                        if reread is not None:
                            again.append((f, reread))
                    else:
                        again.append((f, r))
                small = again
        if small:
            self._commit(table, small, fmt, run_id, result)

    def _ingest_large(
        self,
        table: str,
        f: LandingFile,
        read: Read,
        opts: LandingOptions,
        fmt: NumberFormat | None,
        run_id: str,
        result: IngestResult,
    ) -> None:
        """A large file streams into a commit of its own while its hash is computed alongside."""
        with ThreadPoolExecutor(1) as pool:
            digest = pool.submit(file_digest, f.path) if not f.digest else None
            if fmt is None and read.depends_on_format and read.number_format is not None:
                fmt = replace(read.number_format, source="table")
                self.state.set_number_format(table, fmt.decimal, read.number_format.source, f.rel)
            try:
                self._commit(table, [(f, read)], fmt, run_id, result, digest)
                return
            except SinkFailed:
                pass
            # A value past the rows that typed the file (text in a number column): type it from all rows.
            try:
                full = reader.read_file(f, opts, fmt, self.ws.tmp, full_inference=True)
                self._commit(table, [(f, full)], fmt, run_id, result, digest)
            except (SinkFailed, UnreadableFile) as exc:
                if digest is not None:
                    f.digest = digest.result()
                self._quarantine(f, str(exc.__cause__ or exc), run_id, result)

    def _commit(
        self,
        table: str,
        items: list[tuple[LandingFile, Read]],
        fmt: NumberFormat | None,
        run_id: str,
        result: IngestResult,
        digest: Future[str] | None = None,
    ) -> None:
        """Stage the files' rows as Parquet in the table's folder and publish them in one commit."""
        import json

        import polars as pl

        started = time.perf_counter()
        batch_id = f"{run_id}-{uuid.uuid4().hex[:8]}"
        path = self.ws.table_path(table)
        dt = lake.open_table(path)
        table_schema: dict[str, Any] = dict(pl.DataFrame(lake.arrow_schema(dt).empty_table()).schema) if dt else {}
        decimal = fmt.decimal if fmt else "."
        out = lake.stage_path(path, batch_id)
        files = [f for f, _ in items]
        try:
            batch = plan_batch(dt, table_schema, items, decimal)
            rows_per_file = stage(batch, dt, out, decimal, batch_id, datetime.now(UTC))
            if digest is not None:
                f0 = files[0]
                f0.digest = digest.result()
                self.state.remember_hash(f0.rel, f0.size, f0.mtime_ns, f0.digest)
                if self.state.ledger_has(table, f0.digest):
                    out.unlink(missing_ok=True)
                    result.skipped.append(f0)
                    self.bus.emit(FileSkipped(f0.rel, table))
                    return
            # Record intent first: a crash after the commit but before the ledger update is resolved
            # by finding this batch id in the table's history, so no file is ingested twice.
            self.state.record_files(
                [(table, f.digest, f.rel, f.size, f.mtime_ns, "pending", batch_id, None, None, run_id) for f in files]
            )
            schema = pl.DataFrame(schema=batch.target).to_arrow().schema
            mode = "overwrite" if batch.widened else "append"
            meta = {"rat.schema_changes": json.dumps([c.to_json() for c in batch.changes])} if batch.changes else {}
            if fmt is not None:
                meta["rat.number_format"] = fmt.decimal
            # An incremental pull's cursor, committed with its rows (sources/cursor.py).
            if (pulled := committed_state([f.path for f in files])) is not None:
                meta[STATE_KEY] = pulled
            version = lake.publish(path, [out], schema, mode, run_id, f"ingest {batch_id}", metadata=meta)
        except BaseException as exc:
            out.unlink(missing_ok=True)
            # On a full disk or a locked state database this delete fails too: then the next run's
            # recover() forgets the pending rows (their batch is in no commit). The first error stands.
            with contextlib.suppress(Exception):
                self.state.settle_batch(batch_id, committed=False)
            if isinstance(exc, SinkFailed):
                raise
            error = self._storage_error(table, exc)
            if error is None:
                raise
            raise error from exc
        finally:
            for _, r in items:
                for scratch in r.scratch:
                    scratch.unlink(missing_ok=True)
        self.state.record_files(
            [
                (table, f.digest, f.rel, f.size, f.mtime_ns, "ingested", batch_id, rows_per_file[f.rel], None, run_id)
                for f in files
            ]
        )
        result.ingested.extend(files)
        result.tables[table] = version
        self._announce(table, version, run_id, batch.changes, result)
        notes = tuple(f"landing/{f.rel}: {note}" for f, r in items for note in r.notes)
        took = time.perf_counter() - started
        self.bus.emit(TableIngested(table, len(files), sum(rows_per_file.values()), version, took, notes))

    def _announce(
        self, table: str, version: int, run_id: str, changes: list[SchemaChange], result: IngestResult
    ) -> None:
        """Schema changes: in state.sqlite (for `rat status`), and as events (the run's lines)."""
        if not changes:
            return
        self.state.record_schema_changes(table, version, run_id, changes)
        result.schema_changes.setdefault(table, []).extend(changes)
        for c in changes:
            message = c.describe(table)
            self.bus.emit(
                SchemaChanged(table, c.column, c.change, c.old_type, c.new_type, c.file, version, c.example, message)
            )

    def _storage_error(self, table: str, exc: BaseException) -> StorageError | None:
        """A one-line error when the disk refused a write for `table` (full, read-only), naming the
        table's folder (polars and delta-rs do not always name the file). Errors of the state
        database are left to the command line: they happen anywhere, not only here."""
        if not isinstance(exc, Exception) or isinstance(exc, StorageError) or _state_error(exc):
            return None
        fault = storage_fault(exc)
        if fault is None:
            return None
        folder = self.ws.table_path(table)
        path = fault_path(exc)
        where = folder if path is None or Path(path).is_relative_to(folder) else Path(path)
        shown = where.relative_to(self.ws.root).as_posix() if where.is_relative_to(self.ws.root) else str(where)
        return StorageError(
            f"cannot write {shown} (ingesting into {table}): {fault[0]}; {fault[1]}, then run again "
            "(nothing half-written was published; the files wait in landing/)"
        )

    def _quarantine(self, f: LandingFile, reason: str, run_id: str, result: IngestResult) -> None:
        moved = quarantine(self.ws, self.state, f, reason, run_id)
        if moved is None:
            return
        reason, rel = moved
        result.quarantined.append((f, reason))
        self.bus.emit(FileQuarantined(f.rel, f.table, reason, rel))
