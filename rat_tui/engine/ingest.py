"""Landing files -> bronze tables: find, read, conform, stage, commit; quarantine what cannot be read.

`landing/<folder>/**/<file>` lands in `bronze.<folder>`, `landing/<stem>.<ext>` in `bronze.<stem>`.
Each file is ingested once: a ledger in state.sqlite keyed by (table, content hash). Small files for one
table go into one commit; a large file is streamed into a commit of its own so memory stays bounded.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.events import EventBus, FileQuarantined, FileSkipped, TableIngested
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


def table_name_for(stem: str) -> str:
    """A safe bronze table name from a folder name or a file stem."""
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", stem.strip()).strip("_").lower()
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


def _sniff_csv(path: Path) -> dict[str, Any]:
    import duckdb

    from rat_tui.engine.query import first_row, scratch

    row = None
    error: Exception | None = None
    for encoding in ("utf-8", "latin-1"):  # an old ERP's Latin-1 export should load, not be refused
        try:
            row = first_row(
                scratch().execute(
                    "SELECT Delimiter, Quote, HasHeader FROM sniff_csv(?, sample_size = 20480, encoding = ?)",
                    [str(path), encoding],
                )
            )
            break
        except duckdb.Error as exc:
            error = exc
    if row is None:
        raise UnreadableFile(f"not a readable CSV file ({_first_line(error or ValueError('no dialect'))})")
    delimiter, quote, header = row
    quote = quote if quote and len(quote) == 1 else '"'
    if len(delimiter) != 1:
        raise UnreadableFile(f"CSV delimiter {delimiter!r} is not a single character")
    return {"separator": delimiter, "quote_char": quote, "has_header": bool(header)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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
            if compressed:
                return pl.read_parquet(io.BytesIO(gzip.decompress(file.path.read_bytes())))
            return pl.scan_parquet(file.path) if lazy else pl.read_parquet(file.path)
        if ext in JSON_EXTS:
            return _read_json(file.path, compressed, lazy, infer)
        dialect = _sniff_csv(file.path)
        # Dates stay text: 02/01/2024 is a different day in Boston and in Berlin, and bronze must not guess.
        options: dict[str, Any] = dict(dialect, infer_schema_length=infer, try_parse_dates=False)
        if lazy:
            return pl.scan_csv(file.path, **options)
        source: Any = gzip.decompress(file.path.read_bytes()) if compressed else file.path
        try:
            return pl.read_csv(source, **options)
        except pl.exceptions.ComputeError as exc:
            if "utf-8" not in str(exc).lower() and "utf8" not in str(exc).lower():
                raise
            # Exports from older systems are often Windows-1252 or Latin-1: load them rather than refuse.
            raw = source if isinstance(source, bytes) else file.path.read_bytes()
            for encoding in ("cp1252", "latin-1"):
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError:
                    continue
                return pl.read_csv(text.encode(), **options)
            raise
    except UnreadableFile:
        raise
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise UnreadableFile(f"cannot be decompressed or read ({_first_line(exc)})") from None
    except Exception as exc:  # polars raises several error types for malformed input
        raise UnreadableFile(_first_line(exc)) from None


def _read_json(path: Path, compressed: bool, lazy: bool, infer: int | None) -> pl.LazyFrame | pl.DataFrame:
    import polars as pl

    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    if not head:
        raise UnreadableFile("the file holds only whitespace")
    first = head[:1]
    if first == b"[":
        data = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
        return pl.read_json(data, infer_schema_length=None)
    if first == b"{":
        if lazy:
            return pl.scan_ndjson(path, infer_schema_length=infer)
        source: Any = gzip.decompress(path.read_bytes()) if compressed else path
        return pl.read_ndjson(source, infer_schema_length=None)
    raise UnreadableFile("JSON must be an array of objects or one object per line (NDJSON), not a single value")


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


def _with_lineage(frame: Any, rel: str, batch_id: str, at: datetime) -> Any:
    import polars as pl

    renames = {c: f"{c}_1" for c in frame.collect_schema().names() if c in LINEAGE}
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


def _is_lazy(frame: Any) -> bool:
    import polars as pl

    return isinstance(frame, pl.LazyFrame)


class Ingestor:
    """Ingests what waits in landing/ into bronze, one commit per table (per large file)."""

    def __init__(self, ws: Workspace, state: State, bus: EventBus) -> None:
        self.ws = ws
        self.state = state
        self.bus = bus

    def pending(self, only: set[str] | None = None) -> list[LandingFile]:
        """Landing files not yet in the ledger (hashing only files new or changed since last seen);
        with `only`, just those of these paths under landing/."""
        out = []
        for f in scan_landing(self.ws):
            if only is not None and f.rel not in only:
                continue
            digest = self.state.known_hash(f.rel, f.size, f.mtime_ns)
            if digest is None and f.size >= STREAM_BYTES and not _file_kind(f.path.name)[1]:
                out.append(f)  # hashed while it streams into bronze: see _ingest_large
                continue
            if digest is None:
                try:
                    digest = file_digest(f.path)
                except OSError:
                    continue  # vanished or unreadable right now; the next scan sees it again
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
        for table, files in by_table.items():
            self._ingest_table(table, files, run_id, result)
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
        frames = [(f, _with_lineage(frame, f.rel, batch_id, at)) for f, frame in items]
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
                    raise _SinkFailed(_first_line(exc)) from exc
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
        except BaseException:
            out.unlink(missing_ok=True)
            self.state.db.execute("DELETE FROM ingested_files WHERE batch_id = ? AND status = 'pending'", (batch_id,))
            raise
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

    def _quarantine(self, f: LandingFile, reason: str, run_id: str, result: IngestResult) -> None:
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
