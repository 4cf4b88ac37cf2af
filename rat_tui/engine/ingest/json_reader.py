"""Reading a JSON file: an array, objects one per line (NDJSON), or one document holding the records.

The shapes that land:
- an array of objects, or NDJSON: one row per object;
- an array of plain values: one column `value`;
- a document (pretty-printed or not) that is an object holding one list of records, such as an
  API dump `{"data": [...], "meta": {...}}`: the records of that list (found up to two levels
  down; `records = "data.items"` in `[landing.<name>]` names it when there are several);
- several pretty-printed objects one after another: one row per object.
A lone object with no list of records (what an API's error answer looks like) or a lone plain
value is not records: quarantined, saying what it holds, unless `records = ""` asks for it as one row.
polars reads the common case; records whose values change type go through json_shapes.
"""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

from rat_tui.engine.ingest.frames import Read
from rat_tui.engine.ingest.json_shapes import deep_as_text, has_numbers, records_frame
from rat_tui.engine.ingest.text import UnreadableFile, json_bytes
from rat_tui.engine.landing_options import LandingOptions

MAX_JSON_DEPTH = 256  # deeper JSON is refused: polars' NDJSON reader crashes the process near 600
_NOT_JSON_SYNTAX = bytes(b for b in range(256) if b not in b'{}[]"')
HAZARD_BYTES = 4 << 20  # bytes of a streamed NDJSON file checked for booleans beside numbers


def read_json(
    path: Path, compressed: bool, lazy: bool, opts: LandingOptions, ndjson_ext: bool, full: bool, tmp: Path, folder: str
) -> Read:
    """A JSON file as a Read; `tmp` takes the scratch file of a large file read exactly; `folder`
    names its `[landing.<folder>]` in reasons."""
    import polars as pl

    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        head = json_bytes(fh.read(65536), opts.encoding).lstrip()
    if not head:
        raise UnreadableFile("the file holds only whitespace")
    first = head[:1]
    ndjson = opts.format == "ndjson" or (opts.format is None and ndjson_ext)
    if lazy and first == b"{" and opts.records is None and (ndjson or _first_line_whole(head)):
        check_depth(head)
        if not full and not _bool_hazard(path, HAZARD_BYTES):
            frame = pl.scan_ndjson(path, infer_schema_length=10_000)
            return _read(_guarded(deep_as_text(frame)))
        scratch = tmp / f"ndjson-{uuid.uuid4().hex[:12]}.parquet"
        read = _read(_ndjson_streamed(path, scratch))
        read.scratch = (scratch,)
        return read
    data = json_bytes(gzip.decompress(path.read_bytes()) if compressed else path.read_bytes(), opts.encoding)
    check_depth(data)
    if opts.records is None and first == b"[":
        return _fast(data, lambda: pl.read_json(data, infer_schema_length=None), ndjson=False)
    if opts.records is None and first == b"{" and (ndjson or _is_ndjson(data)):
        return _fast(data, lambda: pl.read_ndjson(data, infer_schema_length=None), ndjson=True)
    document = _documents(data)
    records, note = _records(document, opts.records, f"[landing.{_key(folder)}]")
    return _read(deep_as_text(records_frame(records)), (note,) if note else ())


def _read(frame: Any, notes: tuple[str, ...] = ()) -> Read:
    return Read(frame, dict(frame.collect_schema()), notes=notes)


def _fast(data: bytes, polars_read: Any, ndjson: bool) -> Read:
    """polars' reader when it types every value as the file wrote it; else the exact reader."""
    try:
        frame = polars_read()
    except Exception:
        frame = None
    if frame is not None and _has_bool(data) and any(has_numbers(t) for t in frame.schema.values()):
        frame = None  # polars reads `true` beside `2` as 1: read exactly instead
    if frame is not None and (_stringified(frame) or (frame.width == 0 and frame.height)):
        frame = None  # objects beside strings written as text, or objects without keys
    if frame is not None:
        return _read(deep_as_text(frame))
    values = _parse_lines(data) if ndjson else _parse(data)
    if not isinstance(values, list):
        raise UnreadableFile("the JSON is not an array")
    return _read(deep_as_text(records_frame(values)))


def _looks(expr: Any, dt: Any) -> Any:
    """Per row: whether a text value in `expr` (of type `dt`, at any depth) looks like an object or
    a list: how polars' NDJSON reader stores a field that is sometimes a string and sometimes an
    object, without saying so. None when the type holds no text."""
    import polars as pl

    if dt == pl.String:
        return (expr.str.starts_with("{") | expr.str.starts_with("[")).fill_null(False)
    if isinstance(dt, pl.List):
        inner = _looks(pl.element(), dt.inner)
        return None if inner is None else expr.list.eval(inner).list.any().fill_null(False)
    if isinstance(dt, pl.Struct):
        parts = [p for f in dt.fields if (p := _looks(expr.struct.field(f.name), f.dtype)) is not None]
        return pl.any_horizontal(parts).fill_null(False) if parts else None
    return None


def _stringified(frame: Any) -> bool:
    import polars as pl

    checks = [e for n, t in frame.schema.items() if (e := _looks(pl.col(n), t)) is not None]
    return bool(checks) and bool(frame.select(pl.any_horizontal(checks).any()).item())


def _guarded(frame: Any) -> Any:
    """A streamed NDJSON read that fails (so the file is read exactly) at the first text value
    that looks like an object or a list, instead of storing polars' text of it."""
    import polars as pl

    schema = frame.collect_schema()
    checks = [e for n, t in schema.items() if (e := _looks(pl.col(n), t)) is not None]
    if not checks:
        return frame
    first = schema.names()[0]
    fine = (~pl.any_horizontal(checks)).replace_strict({True: True}, return_dtype=pl.Boolean)
    return frame.with_columns(pl.when(fine).then(pl.col(first)).alias(first))


def _has_bool(data: bytes) -> bool:
    return b"true" in data or b"false" in data


def _bool_hazard(path: Path, limit: int) -> bool:
    with open(path, "rb") as fh:
        return _has_bool(fh.read(limit))


def _first_line_whole(head: bytes) -> bool:
    line = head.split(b"\n", 1)[0].strip()
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _is_ndjson(data: bytes) -> bool:
    """Objects one per line: the first line is a whole value and another line follows it (one line
    holding one object is a document, whose records may be inside it)."""
    lines = [ln for ln in data.split(b"\n", 2)[:2] if ln.strip()]
    if not lines or not _first_line_whole(lines[0]):
        return False
    return len([ln for ln in data.split(b"\n") if ln.strip()]) > 1


def _parse(data: bytes) -> Any:
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise UnreadableFile("the JSON is nested too deeply to read") from None


def _parse_lines(data: bytes) -> list[Any]:
    out = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UnreadableFile(f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})") from None
    return out


def _documents(data: bytes) -> Any:
    """The file's JSON value; several values one after another (pretty-printed objects) as a list."""
    text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    try:
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            value, pos = decoder.raw_decode(text, pos)
            values.append(value)
    except json.JSONDecodeError as exc:
        line = text.count("\n", 0, exc.pos) + 1
        column = exc.pos - text.rfind("\n", 0, exc.pos)
        raise UnreadableFile(f"not valid JSON ({exc.msg} at line {line}, column {column})") from None
    except RecursionError:
        raise UnreadableFile("the JSON is nested too deeply to read") from None
    if not values:
        raise UnreadableFile("the file holds only whitespace")
    return values[0] if len(values) == 1 else values


def _key(folder: str) -> str:
    return folder if folder.replace("_", "").replace("-", "").isalnum() else json.dumps(folder)


def _records(document: Any, path: str | None, section: str) -> tuple[list[Any], str | None]:
    """The records of a document, and a note saying where they were found."""
    if path is not None:
        value: Any = document
        for part in [p for p in path.split(".") if p]:
            if not isinstance(value, dict) or part not in value:
                keys = ", ".join(map(str, value)) if isinstance(value, dict) else type(value).__name__
                raise UnreadableFile(f"no {part!r} at records = {path!r} in the JSON (it holds: {keys})")
            value = value[part]
        if isinstance(value, list):
            return value, (f"the records under {path!r}" if path else None)
        return [value], ("the document as one row" if not path else f"the object under {path!r} as one row")
    if isinstance(document, list):
        return document, None
    if not isinstance(document, dict):
        shown = json.dumps(document)[:40]
        raise UnreadableFile(
            f'a single JSON value ({shown}), not records; set records = "" under {section} '
            "in rat.toml to land it as one row"
        )
    found = _record_lists(document)
    if len(found) == 1:
        key = found[0]
        inner: Any = document
        for part in key.split("."):
            inner = inner[part]
        others = [k for k in document if k != key.split(".")[0]]
        rest = f" (besides {', '.join(others)})" if others else ""
        return inner, f"the records under {key!r}{rest}"
    keys = ", ".join(map(str, document)) or "none"
    if not found:
        raise UnreadableFile(
            f'a single JSON object with no list of records (keys: {keys}); set records = "" under '
            f"{section} in rat.toml to land it as one row"
        )
    raise UnreadableFile(
        f'a JSON object with several lists of records ({", ".join(found)}); set records = "{found[0]}" '
        f"under {section} in rat.toml to pick one"
    )


def _record_lists(document: dict[str, Any]) -> list[str]:
    """Dotted paths of the lists of objects in a document, at the top level or, if none, one down."""

    def lists(obj: dict[str, Any], prefix: str) -> list[str]:
        return [
            f"{prefix}{k}"
            for k, v in obj.items()
            if isinstance(v, list) and (not v or all(isinstance(x, dict) for x in v))
        ]

    top = lists(document, "")
    if top:
        return top
    nested: list[str] = []
    for k, v in document.items():
        if isinstance(v, dict):
            nested += lists(v, f"{k}.")
    return nested


def _ndjson_streamed(path: Path, out: Path) -> Any:
    """A large NDJSON file read exactly (json_shapes), in chunks, into a scratch Parquet file."""
    import polars as pl
    import pyarrow.parquet as pq

    from rat_tui.engine.ingest.json_shapes import Shape, convert, dtype, merge, shape_of

    shapes: dict[str, Shape] = {}
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            record = _line(line, number)
            for k, v in record.items():
                shapes[str(k)] = merge(shapes.get(str(k)), shape_of(v))
    schema = {k: dtype(s) for k, s in shapes.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        chunk: list[dict[str, Any]] = []
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    record = _line(line, number)
                    chunk.append({k: convert(record.get(k), s) for k, s in shapes.items()})
                if len(chunk) >= 50_000:
                    writer = _write(writer, out, pl.from_dicts(chunk, schema=schema), pq)
                    chunk = []
        writer = _write(writer, out, pl.from_dicts(chunk, schema=schema) if chunk else pl.DataFrame(schema=schema), pq)
    finally:
        if writer is not None:
            writer.close()
    return deep_as_text(pl.scan_parquet(out))


def _line(line: bytes, number: int) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})") from None
    return value if isinstance(value, dict) else {"value": json.dumps(value)}


def _write(writer: Any, out: Path, frame: Any, pq: Any) -> Any:
    table = frame.to_arrow()
    if writer is None:
        writer = pq.ParquetWriter(str(out), table.schema, compression="zstd")
    writer.write_table(table)
    return writer


def check_depth(data: bytes) -> None:
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
