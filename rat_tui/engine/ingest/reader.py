"""Reading one landing file, whatever its format, into a Read; what cannot be read raises UnreadableFile."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Any

from rat_tui.engine.errors import first_line
from rat_tui.engine.ingest.csv_reader import read_csv
from rat_tui.engine.ingest.frames import Read, declared, storable
from rat_tui.engine.ingest.json_reader import read_json
from rat_tui.engine.ingest.landing import CSV_EXTS, JSON_EXTS, PARQUET_EXTS, SUPPORTED, LandingFile, file_kind
from rat_tui.engine.ingest.numbers import NumberFormat
from rat_tui.engine.ingest.text import UnreadableFile
from rat_tui.engine.landing_options import LandingOptions

# Files this size or larger are streamed into a commit of their own.
STREAM_BYTES = 64 * 2**20


def file_format(name: str, opts: LandingOptions) -> str | None:
    """csv, json or parquet: by `[landing.<name>] format`, else by the file's extension."""
    if opts.format:
        return "json" if opts.format == "ndjson" else opts.format
    ext, _ = file_kind(name)
    if ext in PARQUET_EXTS:
        return "parquet"
    if ext in JSON_EXTS:
        return "json"
    if ext in CSV_EXTS:
        return "csv"
    return None


def read_file(
    file: LandingFile,
    opts: LandingOptions | None = None,
    table_format: NumberFormat | None = None,
    tmp: Path | None = None,
    full_inference: bool = False,
) -> Read:
    """The file's rows as a Read (lazy for a large file); raise UnreadableFile with a reason.
    `table_format` is how the table's earlier files wrote numbers; `full_inference` types a
    streamed file from all its rows (after a value past its first rows did not fit)."""
    import polars as pl

    opts = opts or LandingOptions()
    ext, compressed = file_kind(file.path.name)
    kind = file_format(file.path.name, opts)
    if kind is None:
        raise UnreadableFile(
            f"unsupported file type {ext or '(none)'!r}; rat reads .csv, .tsv, .json, .ndjson, .jsonl and .parquet "
            f"(optionally .gz), or set format under [landing.{file.folder}] in rat.toml"
        )
    if file.size == 0:
        raise UnreadableFile("the file is empty")
    lazy = file.size >= STREAM_BYTES and not compressed
    scratch = tmp or file.path.parent
    try:
        if kind == "parquet":
            read = _read_parquet(file.path, compressed, lazy)
        elif kind == "json":
            ndjson = ext in (".ndjson", ".jsonl")
            read = read_json(file.path, compressed, lazy, opts, ndjson, full_inference, scratch, file.folder)
        else:
            raw = None if lazy else (gzip.decompress(file.path.read_bytes()) if compressed else file.path.read_bytes())
            read = read_csv(file.path, raw, opts, table_format, lazy, full_inference)
        read = storable(read)
        fmt = read.number_format or table_format or NumberFormat(opts.decimal or ".", opts.thousands)
        return declared(read, opts.columns, fmt, f"[landing.{file.folder}] of rat.toml")
    except UnreadableFile:
        raise
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"the .gz file is damaged or incomplete ({first_line(exc)})") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({first_line(exc)})") from None
    except (Exception, pl.exceptions.PanicException) as exc:  # polars raises several types for malformed input
        raise UnreadableFile(first_line(exc)) from None


def _read_parquet(path: Path, compressed: bool, lazy: bool) -> Read:
    import polars as pl

    frame: Any
    try:
        if compressed:
            frame = pl.read_parquet(io.BytesIO(gzip.decompress(path.read_bytes())))
        else:
            frame = pl.scan_parquet(path) if lazy else pl.read_parquet(path)
    except (OSError, EOFError, zlib.error):
        raise
    except Exception as exc:
        raise UnreadableFile(f"not a readable Parquet file: damaged or incomplete ({first_line(exc)})") from None
    return Read(frame, dict(frame.collect_schema()))


__all__ = ["STREAM_BYTES", "SUPPORTED", "Read", "read_file"]
