"""One query of `rat serve` on its own DuckDB cursor and thread: started (bound, first batch read)
before the answer's status is chosen, then streamed; interrupted at its timeout or when the client
goes away."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rat_tui.engine.query import query_error_text
from rat_tui.serve.guard import BadQuery, Refused, is_permission_error

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

BATCH_ROWS = 16_384


class TimedOut(Exception):
    """The query ran past its timeout and was interrupted: answered 408."""


class Query:
    """`relation_of(cursor)` makes the relation to run; `timeout` seconds from start() on."""

    def __init__(
        self,
        cursor: duckdb.DuckDBPyConnection,
        relation_of: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation],
        timeout: float,
    ) -> None:
        self.cursor = cursor
        self.relation_of = relation_of
        self.timeout = timeout
        self.expired = False
        self.stopped = False
        self._timer: threading.Timer | None = None
        self._reader: pa.RecordBatchReader | None = None
        self._first: pa.RecordBatch | None = None
        self.schema: pa.Schema | None = None

    def start(self) -> None:
        """Bind the query and read its first batch (blocking): BadQuery, Refused or TimedOut."""
        self._timer = threading.Timer(self.timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()
        try:
            relation = self.relation_of(self.cursor)
            reader = relation.to_arrow_reader(BATCH_ROWS)
            self.schema = reader.schema
            self._reader = reader
            self._first = self._next()
        except Exception as exc:
            self.finish()
            raise self._why(exc) from None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The first batch, then the rest as DuckDB makes them (raises as start() does)."""
        try:
            if self._first is not None:
                yield self._first
                self._first = None
            while not self.stopped:
                batch = self._next()
                if batch is None:
                    return
                yield batch
        except Exception as exc:
            raise self._why(exc) from None
        finally:
            self.finish()

    def _next(self) -> pa.RecordBatch | None:
        assert self._reader is not None
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            return None

    def _why(self, exc: BaseException) -> Exception:
        if self.expired:
            return TimedOut(f"the query ran past its timeout of {self.timeout:g}s and was interrupted")
        if isinstance(exc, (BadQuery, Refused, TimedOut)):
            return exc
        if is_permission_error(exc):
            return Refused(f"rat serve reads the lake only: {query_error_text(exc)}")
        return BadQuery(query_error_text(exc))

    def _expire(self) -> None:
        self.expired = True
        self.cursor.interrupt()

    def stop(self) -> None:
        """From another thread: the client went away; interrupt what runs."""
        self.stopped = True
        try:
            self.cursor.interrupt()
        except Exception:  # closed: it had ended
            pass

    def finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        try:
            self.cursor.close()
        except Exception:  # already closed, or interrupted mid-close
            pass
