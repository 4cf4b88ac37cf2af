"""A query's result as bytes, one Arrow batch at a time: memory stays flat at any size.

json is an array of objects and ndjson an object a line, both as DuckDB's to_json writes them
(what `rat query --format json` prints); csv has a header; arrow is an Arrow IPC stream; parquet a
Parquet file (zstd) whose row groups are written as they fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rat_tui.engine.query import quote_ident, scratch

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}
ROW_GROUP_ROWS = 131_072  # a Parquet row group: DuckDB's own size


def encode(fmt: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """The bytes of `batches` in `fmt` (one of FORMATS), as they come."""
    if fmt in ("json", "ndjson"):
        return _json(batches, array=fmt == "json")
    if fmt == "csv":
        return _csv(schema, batches)
    if fmt == "arrow":
        return _arrow(schema, batches)
    return _parquet(schema, batches)


def _lines(batch: pa.RecordBatch) -> str:
    # scratch() is one thread's own single-threaded connection: the rows keep their order.
    row = scratch().execute("SELECT string_agg(to_json(_t)::VARCHAR, chr(10)) FROM batch AS _t").fetchone()
    return (row[0] if row else None) or ""


def _json(batches: Iterable[pa.RecordBatch], array: bool) -> Iterator[bytes]:
    first = True
    if array:
        yield b"["
    for batch in batches:
        if batch.num_rows == 0:
            continue
        text = _lines(batch)
        if array:
            text = ("" if first else ",\n") + text.replace("\n", ",\n")
        else:
            text += "\n"
        first = False
        yield text.encode("utf-8")
    if array:
        yield b"]\n"


def _csv(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = True
    # pyarrow formats a timestamp with a time zone twenty times slower than the rest of a row
    # (every bronze table has one, _ingested_at): DuckDB writes those as text first, as its own
    # CSV would (2024-01-31 10:00:00+00).
    zoned = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.tz is not None]
    as_text = ", ".join(f"CAST({quote_ident(n)} AS VARCHAR) AS {quote_ident(n)}" for n in zoned)
    for batch in batches:
        if zoned:
            batch = _zoned_as_text(batch, as_text)
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=header))
        header = False
        yield sink.getvalue().to_pybytes()
    if header:  # no rows at all: the header alone
        sink = pa.BufferOutputStream()
        pacsv.write_csv(schema.empty_table(), sink)
        yield sink.getvalue().to_pybytes()


def _zoned_as_text(batch: pa.RecordBatch, as_text: str) -> pa.Table:
    return scratch().sql(f"SELECT * REPLACE ({as_text}) FROM batch").to_arrow_table()


class _Chunks:
    """A write-only file that keeps what is written until it is taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _arrow(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    import pyarrow as pa

    chunks = _Chunks()
    with pa.ipc.new_stream(pa.PythonFile(chunks, mode="w"), schema) as writer:
        yield chunks.take()
        for batch in batches:
            writer.write_batch(batch)
            yield chunks.take()
    yield chunks.take()


def _parquet(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunks = _Chunks()
    pending: list[pa.RecordBatch] = []
    rows = 0
    with pq.ParquetWriter(pa.PythonFile(chunks, mode="w"), schema, compression="zstd") as writer:
        for batch in batches:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema))
                pending, rows = [], 0
                yield chunks.take()
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema))
    yield chunks.take()
