"""Query results that stream: a result read a batch at a time (`rat query`), a workbench query that
shows its first rows and counts the rest, and exports written by DuckDB's COPY.

Memory stays flat at any result size: only the rows shown are held, the rest are counted batch by
batch and dropped. A `QueryRun` can be cancelled from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine.errors import QueryError, RatError
from rat_tui.engine.query import Session, first_row, query_error_text, quote_str, scratch, strip_sql

if TYPE_CHECKING:
    import pyarrow as pa


# One DuckDB vector: the first rows are handed out as soon as DuckDB has made them, and a batch
# held while the rest is counted stays small.
BATCH_ROWS = 2048


class Result:
    """A query's result read as Arrow batches one at a time, so memory stays flat at any size.

    `head(n)` gives the first rows, `chunks()` the rows after them a batch at a time, and `sizes()`
    only how many rows each later batch holds, dropping the batch (how the rest is counted).
    """

    def __init__(self, columns: list[str], reader: pa.RecordBatchReader) -> None:
        self.columns = columns
        self._reader = reader
        self._left: pa.RecordBatch | None = None  # the part of a batch read past head(n)

    def _next(self) -> pa.RecordBatch | None:
        if self._left is not None:
            batch, self._left = self._left, None
            return batch
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            return None
        except Exception as exc:  # duckdb.Error raised while the query runs (a cast, a division)
            raise QueryError(query_error_text(exc)) from None

    def head(self, n: int) -> list[tuple[Any, ...]]:
        """The next `n` rows (fewer at the end of the result)."""
        rows: list[tuple[Any, ...]] = []
        while len(rows) < n and (batch := self._next()) is not None:
            take = n - len(rows)
            if batch.num_rows > take:
                self._left = batch.slice(take)
                batch = batch.slice(0, take)
            rows += python_rows(batch)
        return rows

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The remaining rows, one batch at a time."""
        while (batch := self._next()) is not None:
            if batch.num_rows:
                yield python_rows(batch)

    def sizes(self) -> Iterator[int]:
        """The row count of each remaining batch; the batches themselves are dropped."""
        while (batch := self._next()) is not None:
            yield batch.num_rows


def python_rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """A batch's rows as the Python values DuckDB's fetchall gives (a timedelta for an INTERVAL, a
    dict for a MAP, 9999-12-31 for an infinite date), which pyarrow's own conversion does not."""
    return scratch().from_arrow(batch).fetchall()


def stream(session: Session, sql: str, batch_rows: int = BATCH_ROWS) -> Result | None:
    """Run `sql` and stream its result; None for a statement that returns nothing (an empty one).

    Sets the session's Arrow export to lossless (DuckDB's own extension types), so that the rows
    read back are exactly fetchall's: without it a BIT, a HUGEINT or a TIMETZ changes on the way.
    """
    session.con.execute("SET arrow_lossless_conversion = true")
    rel = session.sql(sql)
    if rel is None:
        return None
    try:
        reader = rel.to_arrow_reader(batch_rows)
    except Exception as exc:  # duckdb.Error
        raise QueryError(query_error_text(exc)) from None
    return Result(list(rel.columns), reader)


def export(session: Session, sql: str, fmt: str, out: Path) -> int:
    """Write a query's result to `out` as csv, json (an array of objects), ndjson (an object a line)
    or parquet; return rows.

    A single query is streamed by DuckDB's COPY; anything else (several statements, SHOW, PRAGMA)
    runs first and its last result is written.
    """
    options = {
        "csv": "FORMAT csv, HEADER true",
        "json": "FORMAT json, ARRAY true",
        "ndjson": "FORMAT json, ARRAY false",
        "parquet": "FORMAT parquet, COMPRESSION zstd",
    }[fmt]
    target = quote_str(str(out))
    try:
        row = first_row(session.con.execute(f"COPY ({strip_sql(sql)}) TO {target} ({options})"))
        return int(row[0]) if row else 0
    except Exception as exc:  # not a plain query: run it, then write its result
        import duckdb

        if isinstance(exc, duckdb.InterruptException):  # cancelled: never run it again the slow way
            raise QueryError(CANCELLED) from None
    rel = session.sql(sql)
    if rel is None:
        raise QueryError("the statement returns no rows to write; use a SELECT")
    try:
        session.con.register("__rat_result", rel.to_arrow_table())
        row = first_row(session.con.execute(f"COPY (FROM __rat_result) TO {target} ({options})"))
    except Exception as exc:  # duckdb.Error
        raise QueryError(query_error_text(exc)) from None
    finally:
        session.con.unregister("__rat_result")
    return int(row[0]) if row else 0


# The workbench's grid takes its first rows in batches this large at most.
GRID_BATCH_ROWS = 65_536
CANCELLED = "cancelled: the query was interrupted before it finished"


@dataclass(frozen=True)
class FirstRows:
    """What the grid shows first: up to the fetch limit of rows, as Arrow."""

    table: pa.Table
    seconds: float
    total: int | None  # None: more rows than the limit; the rest is being counted


@dataclass(frozen=True)
class QueryOutcome:
    """How a query ended: its whole row count (None when it was not counted to the end)."""

    total: int | None
    shown: int | None
    seconds: float
    error: str | None = None

    @property
    def rows(self) -> int | None:
        """The rows to record: the whole count when known, else the rows shown."""
        return self.total if self.total is not None else self.shown


class Cancellable:
    """Work on a query session that `cancel()` stops from any thread (DuckDB's interrupt), before
    or while it runs."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._session: Session | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def running(self) -> bool:
        """Whether it holds a session now (from its start to the end of the count)."""
        with self._lock:
            return self._session is not None

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def cancel(self) -> None:
        """Stop the query (DuckDB's interrupt) or, when it has not started, keep it from starting."""
        self._cancelled.set()
        with self._lock:
            session = self._session
        if session is not None:
            try:
                session.con.interrupt()
            except Exception:
                pass  # the session closed meanwhile

    @contextmanager
    def _session_of(self, open_session: Callable[[], Session]) -> Iterator[Session]:
        """A session this work can be interrupted on; InterruptedError when cancelled before it
        started or while the session opened (the interrupt found no session then)."""
        if self.cancelled:
            raise InterruptedError
        session = open_session()
        with self._lock:
            self._session = session
        try:
            if self.cancelled:
                raise InterruptedError
            yield session
        finally:
            with self._lock:
                self._session = None
            session.close()


class ExportRun(Cancellable):
    """A whole result written to a file by DuckDB's COPY (the workbench's ctrl+e). A cancelled or
    failed export leaves no partial file behind."""

    def __init__(self, sql: str, fmt: str, target: Path) -> None:
        super().__init__()
        self.sql, self.fmt, self.target = sql, fmt, target

    def run(self, open_session: Callable[[], Session]) -> int:
        """The rows written; QueryError (CANCELLED when cancelled) when nothing was."""
        existed = self.target.exists()
        try:
            with self._session_of(open_session) as session:
                return export(session, self.sql, self.fmt, self.target)
        except BaseException:
            if not existed:
                self.target.unlink(missing_ok=True)
            if self.cancelled:
                raise QueryError(CANCELLED) from None
            raise
        finally:
            self._finished.set()


class QueryRun(Cancellable):
    """One query: the first `limit` rows handed over as soon as DuckDB yields them, then the rest
    counted without being kept. `cancel()` may be called from any thread, before or during `run`;
    a cancelled query ends with the error CANCELLED (the rows already handed over stay)."""

    def __init__(self, sql: str, limit: int) -> None:
        super().__init__()
        self.sql = sql
        self.limit = max(1, limit)

    def run(self, open_session: Callable[[], Session], on_first: Callable[[FirstRows], None]) -> QueryOutcome:
        """Open a session, run, close it. `on_first` gets the first rows and may block (the
        workbench waits for the grid to be painted before counting goes on)."""
        started = time.perf_counter()
        try:
            with self._session_of(open_session) as session:
                return self._read(session, on_first, started)
        except Exception as exc:
            if self.cancelled or isinstance(exc, InterruptedError):
                error = CANCELLED
            else:
                error = str(exc) if isinstance(exc, RatError) else query_error_text(exc)
            return QueryOutcome(None, None, time.perf_counter() - started, error)
        finally:
            self._finished.set()

    def _read(self, session: Session, on_first: Callable[[FirstRows], None], started: float) -> QueryOutcome:
        import pyarrow as pa

        rel = session.sql(self.sql)
        if rel is None:
            return QueryOutcome(None, None, time.perf_counter() - started, "the statement returned no rows")
        reader = rel.to_arrow_reader(min(self.limit, GRID_BATCH_ROWS))
        batches: list[pa.RecordBatch] = []
        rows = extra = 0
        for batch in reader:
            take = min(batch.num_rows, self.limit - rows)
            batches.append(batch.slice(0, take) if take < batch.num_rows else batch)
            rows += take
            if rows >= self.limit:
                extra = batch.num_rows - take
                break
        total = rows if rows < self.limit else None
        seconds = time.perf_counter() - started
        on_first(FirstRows(pa.Table.from_batches(batches, schema=reader.schema), seconds, total))
        if total is None:
            try:
                for b in reader:
                    if self.cancelled:
                        break
                    extra += b.num_rows
                else:
                    total = rows + extra
            except Exception:
                pass  # cancelled while counting: the rows shown stay, the count is unknown
        return QueryOutcome(total, rows, time.perf_counter() - started)
