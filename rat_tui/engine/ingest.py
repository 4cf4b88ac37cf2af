"""Landing files -> bronze tables: find, read, conform, stage, commit; quarantine what cannot be read.

`landing/<folder>/**/<file>` lands in `bronze.<folder>`, `landing/<stem>.<ext>` in `bronze.<stem>`.
Each file is ingested once: a ledger in state.sqlite keyed by (table, content hash). Small files for one
table go into one commit; a large file is streamed into a commit of its own so memory stays bounded.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import re
import shutil
import tempfile
import time
import unicodedata
import uuid
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import StorageError, fault_path, first_line, storage_fault
from rat_tui.engine.events import EventBus, FileQuarantined, FileSkipped, FileUnreadable, Progress, TableIngested
from rat_tui.engine.state import State
from rat_tui.engine.workspace import Workspace

if TYPE_CHECKING:
    import polars as pl

CSV_EXTS = {".csv", ".tsv", ".txt", ".psv", ".tab"}
JSON_EXTS = {".json", ".ndjson", ".jsonl"}
PARQUET_EXTS = {".parquet", ".pq"}
SUPPORTED = CSV_EXTS | JSON_EXTS | PARQUET_EXTS
# Names other tools use while a file is still being written; such files wait until renamed.
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", "~", ".swp")
# Files this size or larger are streamed into a commit of their own.
STREAM_BYTES = 64 * 2**20
LINEAGE = ("_source_file", "_ingested_at", "_batch_id")
# zstd level 1 is within 1% of level 3's size here and faster; 1M-row groups cut per-group
# overhead (measured with bench/ingest.py) and suit DuckDB and Spark readers alike.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "row_group_size": 1_000_000}


class UnreadableFile(Exception):
    """A landing file that cannot be read; the message is the reason written beside it in quarantine."""


class _SinkFailed(Exception):
    """Streaming a large file failed part-way (a value its inferred types cannot hold)."""


@dataclass
class LandingFile:
    path: Path
    rel: str  # relative to landing/, with forward slashes
    table: str  # bronze.<name>
    size: int
    mtime_ns: int
    digest: str = ""


@dataclass
class IngestResult:
    ingested: list[LandingFile] = field(default_factory=list)
    quarantined: list[tuple[LandingFile, str]] = field(default_factory=list)
    skipped: list[LandingFile] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # table -> new version
    unreadable: list[tuple[LandingFile, str]] = field(default_factory=list)  # left in landing/, retried next run


def table_name_for(stem: str) -> str:
    """A safe bronze table name from a folder name or a file stem (accents dropped: `Umsätze` -> `umsatze`)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c))
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", folded.strip()).strip("_").lower()
    if not name:
        name = "unnamed"
    if name[0].isdigit():
        name = "t_" + name
    return f"bronze.{name}"


def _file_kind(name: str) -> tuple[str, bool]:
    """(extension without .gz, compressed?) of a file name."""
    lower = name.lower()
    compressed = lower.endswith(".gz")
    if compressed:
        lower = lower[:-3]
    return Path(lower).suffix, compressed


def _stem(name: str) -> str:
    ext, compressed = _file_kind(name)
    base = name[:-3] if compressed else name
    return base[: len(base) - len(ext)] if ext else base


def is_pending_name(name: str) -> bool:
    """Dotfiles and names of files still being written are not ingested (yet)."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def scan_landing(ws: Workspace) -> list[LandingFile]:
    """Every settled file in landing/, with the bronze table it maps to."""
    out: list[LandingFile] = []
    root = ws.landing
    if not root.is_dir():
        return out
    for entry in sorted(root.iterdir()):
        if is_pending_name(entry.name):
            continue
        if entry.is_dir():
            table = table_name_for(entry.name)
            for path in sorted(entry.rglob("*")):
                rel_parts = path.relative_to(root).parts
                if any(is_pending_name(p) for p in rel_parts) or not path.is_file():
                    continue
                out.append(_landing_file(path, root, table))
        elif entry.is_file():
            out.append(_landing_file(entry, root, table_name_for(_stem(entry.name))))
    return out


def _landing_file(path: Path, root: Path, table: str) -> LandingFile:
    st = path.stat()
    return LandingFile(path, path.relative_to(root).as_posix(), table, st.st_size, st.st_mtime_ns)


def file_digest(path: Path) -> str:
    """The file's content identity: XXH3-128, fast enough (~10 GB/s) to vanish beside the ingest itself."""
    import xxhash

    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# Reading one file.


def _sniff_csv(path: Path) -> tuple[dict[str, Any], int]:
    """The CSV dialect DuckDB finds in the file, and how many columns it sees."""
    import duckdb

    from rat_tui.engine.query import first_row, scratch

    row = None
    error: Exception | None = None
    sql = "SELECT Delimiter, Quote, HasHeader, len(Columns) FROM sniff_csv(?, sample_size = 20480, encoding = ?"
    for encoding in ("utf-8", "latin-1"):  # an old ERP's Latin-1 export should load, not be refused
        for long_lines in ("", ", max_line_size = 1073741824"):  # a line past 2 MB (a document in a cell)
            try:
                row = first_row(scratch().execute(sql + long_lines + ")", [str(path), encoding]))
                break
            except duckdb.Error as exc:
                error = exc
                if "max_line_size" not in str(exc) and "Maximum line size" not in str(exc):
                    break
        if row is not None:
            break
    if row is None:
        raise UnreadableFile(f"not a readable CSV file ({first_line(error or ValueError('no dialect'))})")
    delimiter, quote, header, columns = row
    quote = quote if quote and len(quote) == 1 else '"'
    if len(delimiter) != 1:
        raise UnreadableFile(f"CSV delimiter {delimiter!r} is not a single character")
    return {"separator": delimiter, "quote_char": quote, "has_header": bool(header)}, int(columns or 0)


# Delimiters tried when DuckDB's sniffer sees a single column (it does not consider `^` or `~`).
DELIMITERS = (",", ";", "\t", "|", "^", "~")
# JSON nested deeper than this is refused (polars crashes the process near 600 levels); struct
# columns nested deeper than MAX_NESTING are kept as JSON text (polars recurses on deep types).
MAX_JSON_DEPTH = 256
MAX_NESTING = 32


def _text(raw: bytes) -> tuple[str, bool]:
    """The file's text and whether it differs from UTF-8 without a byte-order mark; raise
    UnreadableFile for what is not text. UTF-16/32 with a BOM (Excel's "Unicode text") and
    Windows-1252/Latin-1 exports from older systems load rather than being refused."""
    encoding = None
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif len(raw) % 2 == 0 and len(raw) >= 4:  # UTF-16 without a BOM: every other byte of ASCII text is NUL
        even, odd = raw[:4096:2], raw[1:4096:2]
        if odd.count(0) >= 0.9 * len(odd) and not even.count(0):
            encoding = "utf-16-le"
        elif even.count(0) >= 0.9 * len(even) and not odd.count(0):
            encoding = "utf-16-be"
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"it looks like {encoding.upper()} text but is not ({exc.reason})") from None
        changed = True
    else:
        changed = raw.startswith(codecs.BOM_UTF8)
        body = raw[len(codecs.BOM_UTF8) :] if changed else raw
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            changed = True
            try:
                text = body.decode("cp1252")
            except UnicodeDecodeError:
                text = body.decode("latin-1")
    if text.isspace():
        raise UnreadableFile("the file holds only blank lines")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise UnreadableFile(
            f"it holds NUL bytes (the first on line {line}): a binary file or a damaged copy, not CSV text"
        )
    sample = text[:65536]
    if len(_CONTROLS.findall(sample)) > len(sample) / 100:
        raise UnreadableFile("it is not text (binary content); rat reads CSV text, JSON and Parquet")
    return text, changed


_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")


def _snippet(line: str) -> str:
    line = re.sub(r"[\x00-\x1f]+", " ", line).strip()
    return repr(line if len(line) <= 60 else line[:57] + "...")


def _guess_delimiter(text: str) -> str | None:
    """The delimiter the header line uses most, for a file DuckDB's sniffer reads as one column."""
    header = next((ln for ln in io.StringIO(text) if ln.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def _check_fields(text: str, dialect: dict[str, Any]) -> None:
    """Raise UnreadableFile at the first record whose field count differs from the header's, or at a
    quoted value never closed: polars would pad a short row with NULLs (shifting a row with a
    missing field) or fail with a message about types."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=dialect["separator"], quotechar=dialect["quote_char"], strict=True
    )
    first = "the header has" if dialect["has_header"] else "line 1 has"
    expected: int | None = None
    start = 1
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):  # blank lines are skipped
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    line = text.split("\n")[start - 1] if len(row) < 1000 else ""
                    raise UnreadableFile(
                        f"line {start} has {len(row)} field{'s' if len(row) != 1 else ''} but {first} {expected} "
                        f"(separator {dialect['separator']!r}): {_snippet(line)}"
                    )
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise UnreadableFile(
                f"the quoted value that starts on line {start} is never closed (a missing {dialect['quote_char']})"
            ) from None
        # Another quoting oddity polars may read fine: nothing more to say than polars.


def _header_names(text: str, dialect: dict[str, Any], width: int) -> list[str] | None:
    """The header's names as the CSV standard reads them (polars keeps `""` doubled in a header)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect["separator"], quotechar=dialect["quote_char"])
    try:
        names = next((row for row in reader if row), None)
    except csv.Error:
        return None
    return names if names is not None and len(names) == width else None


def _decimal_commas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text columns of a `;`- or tab-separated file that hold only decimal-comma numbers (`1,5`,
    how Excel writes numbers where `,` is the decimal mark) become numbers."""
    import polars as pl

    numbers = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        values = frame[name].drop_nulls()
        if len(values) and values.str.contains(r"^[-+]?\d+(,\d+)?$").all() and values.str.contains(",").any():
            numbers.append(pl.col(name).str.replace(",", ".", literal=True).cast(pl.Float64))
    return frame.with_columns(numbers) if numbers else frame


def _read_csv(raw: bytes, path: Path | None, infer: int | None) -> pl.DataFrame:
    """A CSV file held in memory (`path` is its file when `raw` is the file's bytes)."""
    import polars as pl

    text, changed = _text(raw)
    if path is not None and not changed:
        dialect, columns = _sniff_csv(path)
    else:
        with tempfile.TemporaryDirectory(prefix="rat-sniff-") as tmp:
            sniffed = Path(tmp) / "file.csv"
            sniffed.write_text(text, encoding="utf-8")
            dialect, columns = _sniff_csv(sniffed)
    data = text.encode("utf-8") if changed else raw
    guessed = _guess_delimiter(text) if columns == 1 else None
    forced = guessed is not None and guessed != dialect["separator"]
    if forced:
        dialect = {"separator": guessed, "quote_char": '"', "has_header": True}
    # Dates stay text: 02/01/2024 is a different day in Boston and in Berlin, and bronze must not guess.
    options: dict[str, Any] = dict(dialect, infer_schema_length=infer, try_parse_dates=False)
    try:
        frame = pl.read_csv(data, **options)
    except Exception:
        _check_fields(text, dialect)  # a ragged row or an unclosed quote: say which line
        raise
    padded = frame[frame.columns[-1]].null_count() if frame.width > 1 else 0
    sep = dialect["separator"]
    if forced or (padded and padded != text.count(sep + "\n") + text.count(sep + "\r\n") + text.endswith(sep)):
        _check_fields(text, dialect)  # more NULLs in the last column than empty last fields: padded rows
    if dialect["has_header"]:
        names = _header_names(text, dialect, frame.width)
        if names is not None and names != frame.columns:
            frame.columns = _clean_names(names)
    if dialect["separator"] != ",":
        frame = _decimal_commas(frame)
    return frame


def read_file(file: LandingFile, full_inference: bool = False) -> pl.LazyFrame | pl.DataFrame:
    """The file's rows as polars data (lazy for a large file); raise UnreadableFile with a reason."""
    import polars as pl

    ext, compressed = _file_kind(file.path.name)
    if ext not in SUPPORTED:
        raise UnreadableFile(
            f"unsupported file type {ext or '(none)'!r}; rat reads .csv, .tsv, .json, .ndjson, .jsonl and .parquet (optionally .gz)"
        )
    if file.size == 0:
        raise UnreadableFile("the file is empty")
    lazy = file.size >= STREAM_BYTES and not compressed
    infer = None if full_inference else 10_000
    try:
        if ext in PARQUET_EXTS:
            return _storable(_read_parquet(file.path, compressed, lazy))
        if ext in JSON_EXTS:
            return _storable(_read_json(file.path, compressed, lazy, infer))
        if lazy:
            dialect, _ = _sniff_csv(file.path)
            # Dates stay text: 02/01/2024 is a different day in Boston and in Berlin: bronze must not guess.
            return _storable(pl.scan_csv(file.path, **dialect, infer_schema_length=infer, try_parse_dates=False))
        raw = gzip.decompress(file.path.read_bytes()) if compressed else file.path.read_bytes()
        return _storable(_read_csv(raw, None if compressed else file.path, infer))
    except UnreadableFile:
        raise
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"the .gz file is damaged or incomplete ({first_line(exc)})") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({first_line(exc)})") from None
    except (Exception, pl.exceptions.PanicException) as exc:  # polars raises several types for malformed input
        raise UnreadableFile(first_line(exc)) from None


def _read_parquet(path: Path, compressed: bool, lazy: bool) -> pl.LazyFrame | pl.DataFrame:
    import polars as pl

    try:
        if compressed:
            return pl.read_parquet(io.BytesIO(gzip.decompress(path.read_bytes())))
        return pl.scan_parquet(path) if lazy else pl.read_parquet(path)
    except (OSError, EOFError, zlib.error):
        raise
    except Exception as exc:
        raise UnreadableFile(f"not a readable Parquet file: damaged or incomplete ({first_line(exc)})") from None


def _read_json(path: Path, compressed: bool, lazy: bool, infer: int | None) -> pl.LazyFrame | pl.DataFrame:
    import polars as pl

    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        head = _json_bytes(fh.read(65536)).lstrip()
    if not head:
        raise UnreadableFile("the file holds only whitespace")
    first = head[:1]
    if first not in (b"[", b"{"):
        raise UnreadableFile("JSON must be an array of objects or one object per line (NDJSON), not a single value")
    if lazy and first == b"{":
        _check_depth(head)
        return _deep_as_text(pl.scan_ndjson(path, infer_schema_length=infer))
    data = _json_bytes(gzip.decompress(path.read_bytes()) if compressed else path.read_bytes())
    _check_depth(data)
    try:
        if first == b"[":
            frame = pl.read_json(data, infer_schema_length=None)
        else:
            frame = pl.read_ndjson(data, infer_schema_length=None)
    except Exception as exc:
        raise UnreadableFile(_json_problem(data, ndjson=first == b"{") or first_line(exc)) from None
    return _deep_as_text(frame)


def _json_bytes(raw: bytes) -> bytes:
    """JSON as UTF-8 without a byte-order mark (PowerShell and Notepad write one)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(encoding, errors="replace").encode("utf-8")
    return raw


_NOT_JSON_SYNTAX = bytes(b for b in range(256) if b not in b'{}[]"')


def _check_depth(data: bytes) -> None:
    """Refuse JSON nested past MAX_JSON_DEPTH before polars sees it (polars' NDJSON reader crashes
    the process near 600 levels). The depth is the running sum of brackets outside strings, found
    with vectorised polars over just the brackets and quotes (about a sixth of reading the file)."""
    import polars as pl
    import pyarrow as pa

    if data.count(b"{") + data.count(b"[") <= MAX_JSON_DEPTH:
        return
    if b"\\\\" in data:  # an escaped backslash, then an escaped quote: neither ends a string
        data = data.replace(b"\\\\", b"")
    if b'\\"' in data:
        data = data.replace(b'\\"', b"")
    syntax = data.translate(None, _NOT_JSON_SYNTAX)
    codes = pl.Series("c", pa.Array.from_buffers(pa.uint8(), len(syntax), [None, pa.py_buffer(syntax)]))
    c = pl.col("c")
    outside = (c == ord('"')).cast(pl.UInt32).cum_sum() % 2 == 0
    step = c.is_in([ord("{"), ord("[")]).cast(pl.Int32) - c.is_in([ord("}"), ord("]")]).cast(pl.Int32)
    depth = pl.DataFrame([codes]).select(pl.when(outside).then(step).otherwise(0).cum_sum().max()).item()
    if depth is not None and depth > MAX_JSON_DEPTH:
        raise UnreadableFile(
            f"the JSON is nested {depth} levels deep; rat reads JSON nested up to {MAX_JSON_DEPTH} levels"
        )


def _json_problem(data: bytes, ndjson: bool) -> str | None:
    """Where the JSON is broken, in the words of Python's parser (polars only gives a byte offset)."""
    text = data.decode("utf-8", errors="replace")
    try:
        if ndjson:
            for number, line in enumerate(text.split("\n"), 1):
                if line.strip():
                    try:
                        json.loads(line)
                    except json.JSONDecodeError as exc:
                        return f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
            return None
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        return "the JSON is nested too deeply to read"
    if isinstance(value, list) and not all(isinstance(v, dict) for v in value):
        return "a JSON array of plain values: rat needs objects, one per row (an array of them, or NDJSON)"
    return None


def _nesting(dtype: Any) -> int:
    import polars as pl

    deepest, stack = 0, [(dtype, 0)]
    while stack:
        dt, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(dt, pl.Struct):
            stack.extend((f.dtype, level + 1) for f in dt.fields)
        elif isinstance(dt, (pl.List, pl.Array)):
            stack.append((dt.inner, level + 1))
    return deepest


def _deep_as_text(frame: Any) -> Any:
    """Columns nested deeper than MAX_NESTING as their JSON text (DuckDB's json functions read it)."""
    import polars as pl

    deep = [n for n, t in frame.collect_schema().items() if _nesting(t) > MAX_NESTING]
    if not deep:
        return frame
    as_text = [
        pl.when(pl.col(n).is_null())
        .then(None)
        .otherwise(pl.struct(pl.col(n).alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}"))
        .alias(n)
        for n in deep
    ]
    return frame.with_columns(as_text)


def _clean_names(names: list[str]) -> list[str]:
    """Column names every reader can address: trimmed, no control characters, none empty (`column_<i>`),
    none the same as another ignoring case (DuckDB's identifiers ignore case): `name`, `name_1`."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names):
        base = re.fullmatch(r"(.*)_duplicated_\d+", raw, re.S)  # how polars renames a repeated header
        name = base.group(1) if base and base.group(1) in names else raw
        name = re.sub(r"[\x00-\x1f\x7f]+", " ", name).strip() or f"column_{i}"
        unique, n = name, 1
        while unique.lower() in seen:
            unique, n = f"{name}_{n}", n + 1
        seen.add(unique.lower())
        out.append(unique)
    return out


def _storable(frame: Any) -> Any:
    """The frame with clean column names, once it is known Delta can store its columns."""
    import polars as pl

    names = frame.collect_schema().names()
    clean = _clean_names(names)
    if clean != names:
        frame = frame.select([pl.col(old).alias(new) for old, new in zip(names, clean, strict=True)])
    try:
        pl.DataFrame(schema={n: delta_dtype(t) for n, t in frame.collect_schema().items()}).to_arrow()
    except (Exception, pl.exceptions.PanicException) as exc:
        raise UnreadableFile(f"its columns cannot be stored in a Delta table ({first_line(exc)})") from None
    return frame


# Conforming types to what a Delta table can hold.


def delta_dtype(dtype: Any) -> Any:
    """The nearest type Delta Lake stores for a polars type."""
    import polars as pl

    if isinstance(dtype, pl.Struct):
        return pl.Struct([pl.Field(f.name, delta_dtype(f.dtype)) for f in dtype.fields])
    if isinstance(dtype, (pl.List, pl.Array)):
        return pl.List(delta_dtype(dtype.inner))
    if isinstance(dtype, pl.Datetime):
        return pl.Datetime("us", dtype.time_zone)
    if dtype in (pl.UInt8, pl.UInt16):
        return pl.Int32
    if dtype in (pl.UInt32, pl.UInt64):
        return pl.Int64
    if dtype in (pl.Null, pl.Categorical, pl.Time, pl.Object, pl.Duration) or isinstance(
        dtype, (pl.Enum, pl.Categorical, pl.Duration, pl.Object)
    ):
        return pl.String
    return dtype


def _conform(frame: Any, schema: dict[str, Any]) -> Any:
    """Select exactly `schema`'s columns in its order, cast, missing ones as nulls."""
    import polars as pl

    names = set(frame.collect_schema().names())
    cols = [
        (pl.col(n).cast(t, strict=False) if n in names else pl.lit(None, dtype=t)).alias(n) for n, t in schema.items()
    ]
    return frame.select(cols)


def _unify(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    """The union of columns with a common supertype each; text where types do not meet."""
    import polars as pl

    out: dict[str, Any] = {}
    for schema in schemas:
        for name, dtype in schema.items():
            if name not in out or out[name] == dtype:
                out[name] = dtype
                continue
            joined: Any
            try:
                joined = pl.concat(
                    [pl.DataFrame(schema={name: out[name]}), pl.DataFrame(schema={name: dtype})], how="vertical_relaxed"
                ).schema[name]
            except Exception:
                joined = pl.String
            out[name] = delta_dtype(joined)
    return out


def _align_case(frame: Any, canon: dict[str, str]) -> Any:
    """Name columns as `canon` (lower-cased name -> the table's name) does, adding this frame's new ones:
    DuckDB ignores case, so `Name` and `name` in one table would make it unreadable."""
    names = frame.collect_schema().names()
    renames = {n: canon[n.lower()] for n in names if canon.get(n.lower(), n) != n}
    for n in names:
        canon.setdefault(n.lower(), n)
    return frame.rename(renames) if renames else frame


def _with_lineage(frame: Any, rel: str, batch_id: str, at: datetime) -> Any:
    import polars as pl

    renames = {c: f"{c}_1" for c in frame.collect_schema().names() if c.lower() in LINEAGE}  # DuckDB ignores case
    if renames:
        frame = frame.rename(renames)
    frame = frame.with_columns(
        [pl.col(c).cast(delta_dtype(t)) for c, t in frame.collect_schema().items() if delta_dtype(t) != t]
    )
    return frame.with_columns(
        pl.lit(rel, dtype=pl.String).alias("_source_file"),
        pl.lit(at, dtype=pl.Datetime("us", "UTC")).alias("_ingested_at"),
        pl.lit(batch_id, dtype=pl.String).alias("_batch_id"),
    )


# The run's ingest step.


def _state_error(exc: BaseException) -> bool:
    """Whether `exc` came from the state database (SQLite), rather than from writing the lake."""
    import sqlite3

    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        if isinstance(current, sqlite3.Error):
            return True
        seen.append(current)
        current = current.__cause__ or current.__context__
    return False


def _is_lazy(frame: Any) -> bool:
    import polars as pl

    return isinstance(frame, pl.LazyFrame)


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
            if digest is None and f.size >= STREAM_BYTES and not _file_kind(f.path.name)[1]:
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
        rows = self.state.db.execute(
            "SELECT DISTINCT table_name, batch_id FROM ingested_files WHERE status = 'pending'"
        ).fetchall()
        for table, batch_id in rows:
            committed = any(
                h["operation"] == f"ingest {batch_id}" for h in lake.history(self.ws.table_path(table), limit=50)
            )
            if committed:
                self.state.db.execute(
                    "UPDATE ingested_files SET status = 'ingested' WHERE batch_id = ? AND status = 'pending'",
                    (batch_id,),
                )
            else:
                self.state.db.execute(
                    "DELETE FROM ingested_files WHERE batch_id = ? AND status = 'pending'", (batch_id,)
                )

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

    def _ingest_table(self, table: str, files: list[LandingFile], run_id: str, result: IngestResult) -> None:
        small: list[tuple[LandingFile, Any]] = []
        for f in files:
            try:
                frame = read_file(f)
            except UnreadableFile as exc:
                self._quarantine(f, str(exc), run_id, result)
                continue
            if _is_lazy(frame):
                self._ingest_large(table, f, frame, run_id, result)
            else:
                small.append((f, frame))
        if small:
            self._commit(table, small, run_id, result)

    def _ingest_large(self, table: str, f: LandingFile, frame: Any, run_id: str, result: IngestResult) -> None:
        """A large file streams into a commit of its own while its hash is computed alongside."""
        with ThreadPoolExecutor(1) as pool:
            digest = pool.submit(file_digest, f.path) if not f.digest else None
            try:
                self._commit(table, [(f, frame)], run_id, result, digest)
                return
            except _SinkFailed:
                pass
            # A value past the inference window (text in a number column): infer over the whole file.
            try:
                self._commit(table, [(f, read_file(f, full_inference=True))], run_id, result, digest)
            except (_SinkFailed, UnreadableFile) as exc:
                if digest is not None:
                    f.digest = digest.result()
                self._quarantine(f, str(exc.__cause__ or exc), run_id, result)

    def _commit(
        self,
        table: str,
        items: list[tuple[LandingFile, Any]],
        run_id: str,
        result: IngestResult,
        digest: Future[str] | None = None,
    ) -> None:
        """Stage the files' rows as Parquet in the table's folder and publish them in one commit."""
        import polars as pl

        started = time.perf_counter()
        batch_id = f"{run_id}-{uuid.uuid4().hex[:8]}"
        at = datetime.now(UTC)
        path = self.ws.table_path(table)
        dt = lake.open_table(path)
        table_schema: dict[str, Any] = dict(pl.DataFrame(lake.arrow_schema(dt).empty_table()).schema) if dt else {}
        canon = {c.lower(): c for c in table_schema}  # `Name` in a later file is the table's `name`
        frames = [(f, _with_lineage(_align_case(frame, canon), f.rel, batch_id, at)) for f, frame in items]
        target = _unify([table_schema] + [dict(fr.collect_schema()) for _, fr in frames])
        widened = any(target[c] != t for c, t in table_schema.items())
        out = lake.stage_path(path, batch_id)
        try:
            if widened:
                # A column's type changed (a number column now holds text): rewrite the table in the
                # wider type, in the same commit as the new rows.
                old = pl.scan_parquet(dt.file_uris(), missing_columns="insert")  # type: ignore[union-attr]
                parts = [_conform(old, target)] + [_conform(fr.lazy(), target) for _, fr in frames]
                pl.concat(parts, how="vertical").sink_parquet(out, **PARQUET_OPTIONS)
            elif _is_lazy(frames[0][1]):
                try:
                    _conform(frames[0][1], target).sink_parquet(out, **PARQUET_OPTIONS)
                except Exception as exc:
                    raise _SinkFailed(first_line(exc)) from exc
            else:
                combined = pl.concat([_conform(fr, target) for _, fr in frames], how="vertical")
                combined.write_parquet(out, **PARQUET_OPTIONS)
            staged_rows = lake.staged_rows([out])
            if digest is not None:
                f0 = items[0][0]
                f0.digest = digest.result()
                self.state.remember_hash(f0.rel, f0.size, f0.mtime_ns, f0.digest)
                if self.state.ledger_has(table, items[0][0].digest):
                    out.unlink(missing_ok=True)
                    result.skipped.append(items[0][0])
                    self.bus.emit(FileSkipped(items[0][0].rel, table))
                    return
            rows_per_file = {f.rel: (fr.height if not _is_lazy(fr) else staged_rows) for f, fr in frames}
            # Record intent first: a crash after the commit but before the ledger update is resolved
            # by finding this batch id in the table's history, so no file is ingested twice.
            self.state.record_files(
                [
                    (table, f.digest, f.rel, f.size, f.mtime_ns, "pending", batch_id, None, None, run_id)
                    for f, _ in frames
                ]
            )
            schema = pl.DataFrame(schema=target).to_arrow().schema
            mode = "overwrite" if widened else "append"
            version = lake.publish(path, [out], schema, mode, run_id, f"ingest {batch_id}")
        except BaseException as exc:
            out.unlink(missing_ok=True)
            # On a full disk or a locked state database this delete fails too: then the next run's
            # recover() forgets the pending rows (their batch is in no commit). The first error stands.
            with contextlib.suppress(Exception):
                self.state.db.execute(
                    "DELETE FROM ingested_files WHERE batch_id = ? AND status = 'pending'", (batch_id,)
                )
            error = self._storage_error(table, exc)
            if error is None:
                raise
            raise error from exc
        self.state.record_files(
            [
                (table, f.digest, f.rel, f.size, f.mtime_ns, "ingested", batch_id, rows_per_file[f.rel], None, run_id)
                for f, _ in frames
            ]
        )
        result.ingested.extend(f for f, _ in frames)
        result.tables[table] = version
        rows = sum(rows_per_file.values())
        self.bus.emit(TableIngested(table, len(frames), rows, version, time.perf_counter() - started))

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
        reason = " ".join(reason.split("\n")).strip()  # one line in the reason file and the log
        if not f.digest:
            try:
                f.digest = file_digest(f.path)
            except OSError:
                return  # the file went away while it was being read: nothing to keep, nothing lost
        dest = self.ws.quarantine / run_id / f.rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(str(f.path), dest)
        except OSError:
            try:
                shutil.copy2(f.path, dest)  # a read-only landing: keep a copy, the ledger stops retries
            except OSError:
                pass
        dest.with_name(dest.name + ".reason.txt").write_text(
            f"file: landing/{f.rel}\ntable: {f.table}\nrun: {run_id}\nreason: {reason}\n", encoding="utf-8"
        )
        self.state.record_files(
            [(f.table, f.digest, f.rel, f.size, f.mtime_ns, "quarantined", None, None, reason, run_id)]
        )
        result.quarantined.append((f, reason))
        rel = dest.relative_to(self.ws.root).as_posix()
        self.bus.emit(FileQuarantined(f.rel, f.table, reason, rel))
