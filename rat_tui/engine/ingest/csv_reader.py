"""Reading a CSV file: read as text, then typed by rat in the table's number format (numbers.py).

A small file is read whole and every value decides its column's type. A large one streams: its
first rows decide, and a later value that does not fit makes the read fail, so the ingestor reads
it again typed from all its rows (`full=True`), never storing a NULL for a value it misread.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine.ingest.csv_dialect import (
    Dialect,
    check_fields,
    guess_delimiter,
    header_names,
    skip_lines,
    sniff,
    title_rows,
)
from rat_tui.engine.ingest.frames import Read, clean_names
from rat_tui.engine.ingest.numbers import MARKS, NumberFormat, column_kind, file_evidence, parse_expr, profile
from rat_tui.engine.ingest.text import UnreadableFile, decode

if TYPE_CHECKING:
    from rat_tui.engine.landing_options import LandingOptions

SAMPLE_ROWS = 20_000  # rows of a streamed file that decide its types (polars looks at 10,000)
SAMPLE_BYTES = 1 << 20  # bytes of a streamed file looked at for its dialect and title rows


def number_format(
    opts: LandingOptions, table: NumberFormat | None, evidence: str | None, separator: str
) -> NumberFormat:
    """The number format a file is read in: configured, else the table's, else the file's own,
    else the separator's (Excel writes `;` files where `,` is the decimal mark), else `.`."""
    if opts.decimal:
        return NumberFormat(opts.decimal, opts.thousands, "configured")
    if table is not None:
        return NumberFormat(table.decimal, opts.thousands, "table")
    if evidence:
        return NumberFormat(evidence, opts.thousands, "file")
    if separator == ";":
        return NumberFormat(",", opts.thousands, "separator")
    return NumberFormat(".", opts.thousands, "default")


def _dialect(sample_path: Path, text: str, opts: LandingOptions) -> tuple[Dialect, list[str]]:
    """The file's dialect with the options applied, and notes on what was detected."""
    notes: list[str] = []
    delimiter = opts.delimiter
    try:
        dialect, columns = sniff(sample_path, opts.skip_rows or 0, delimiter)
    except UnreadableFile:
        if opts.skip_rows is not None or title_rows(text, delimiter) is None:
            raise
        dialect, columns = Dialect(delimiter or ",", '"', True), 0  # title rows confused the sniffer
    if opts.skip_rows is None:
        found = title_rows(text, delimiter or dialect.separator)
        if found is not None:
            skip, found_delimiter = found
            delimiter = delimiter or found_delimiter
            notes.append(f"skipped {skip} title row{'s' if skip != 1 else ''} above the header")
            dialect, columns = sniff(sample_path, skip, delimiter)
    if delimiter is None and columns == 1:
        guessed = guess_delimiter(skip_lines(text, dialect.skip_rows))
        if guessed is not None and guessed != dialect.separator:
            dialect = Dialect(guessed, '"', True, dialect.skip_rows)
    if opts.header is not None:
        dialect = replace(dialect, has_header=opts.header)
    return dialect, notes


def read_csv(
    path: Path,
    raw: bytes | None,
    opts: LandingOptions,
    table_format: NumberFormat | None,
    lazy: bool,
    full: bool = False,
) -> Read:
    """A CSV file as a Read. `raw` is the file's bytes (decompressed) for a small file; a lazy read
    streams from `path`. `full` types a streamed file from all its rows."""
    import polars as pl

    if lazy:
        with open(path, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
        text, _ = decode(head, opts.encoding)
        dialect, notes = _dialect(path, text, opts)
        frame: Any = pl.scan_csv(path, **dialect.polars(), skip_rows=dialect.skip_rows, infer_schema=False)
        sample = frame if full else frame.head(SAMPLE_ROWS)
        return _typed(frame, sample, dialect, opts, table_format, notes, strict=not full)
    assert raw is not None
    text, changed = decode(raw, opts.encoding)
    if path is not None and not changed and path.suffix.lower() != ".gz":
        dialect, notes = _dialect(path, text, opts)  # DuckDB sniffs the file itself
    else:
        with tempfile.TemporaryDirectory(prefix="rat-sniff-") as tmp:
            sniffed = Path(tmp) / "file.csv"
            sniffed.write_text(text, encoding="utf-8")
            dialect, notes = _dialect(sniffed, text, opts)
    body = skip_lines(text, dialect.skip_rows)
    data = body.encode("utf-8") if (changed or dialect.skip_rows) else raw
    try:
        frame = pl.read_csv(data, **dialect.polars(), infer_schema=False)
    except Exception:
        check_fields(body, dialect)  # a ragged row or an unclosed quote: say which line
        raise
    padded = frame[frame.columns[-1]].null_count() if frame.width > 1 else 0
    sep = dialect.separator
    if padded and padded != body.count(sep + "\n") + body.count(sep + "\r\n") + body.endswith(sep):
        check_fields(body, dialect)  # more NULLs in the last column than empty last fields: padded rows
    if dialect.has_header:
        names = header_names(body, dialect, frame.width)
        if names is not None and names != frame.columns:
            frame.columns = clean_names(names)
    frame = frame.rename(dict(zip(frame.columns, clean_names(frame.columns), strict=True)))
    return _typed(frame, frame, dialect, opts, table_format, notes, strict=False)


def _typed(
    frame: Any,
    sample: Any,
    dialect: Dialect,
    opts: LandingOptions,
    table_format: NumberFormat | None,
    notes: list[str],
    strict: bool,
) -> Read:
    """Type the text columns of `frame` by what `sample` holds."""
    import polars as pl

    names = frame.collect_schema().names()
    if names != clean_names(names):
        frame = frame.rename(dict(zip(names, clean_names(names), strict=True)))
        sample = sample.rename(dict(zip(names, clean_names(names), strict=True)))
        names = clean_names(names)
    declared = {n.lower() for n in opts.columns}
    profiles = profile(sample, [n for n in names if n.lower() not in declared], opts.thousands)
    evidence = file_evidence(profiles)
    fmt = number_format(opts, table_format, evidence, dialect.separator)
    others = {m: NumberFormat(m, opts.thousands) for m in MARKS}
    casts: dict[str, Any] = {}
    dtypes: dict[str, Any] = dict.fromkeys(names, pl.String)
    depends = False
    for name, p in profiles.items():
        kind = column_kind(p, fmt)
        depends = depends or any(column_kind(p, f) != kind for f in others.values())
        if kind.kind == "text":
            continue
        casts[name] = lambda c, kind=kind: parse_expr(c, kind, fmt, strict)
        dtypes[name] = {"boolean": pl.Boolean, "integer": pl.Int64, "double": pl.Float64}[kind.kind]
    if depends and fmt.source in ("separator", "default"):
        why = "the ';' separator, as Excel writes them" if fmt.source == "separator" else "no value showing otherwise"
        notes.append(f"numbers read with a {fmt.describe()} (guessed from {why})")
    elif evidence and fmt.source == "table" and evidence != fmt.decimal:
        notes.append(
            f"the file writes numbers with a {NumberFormat(evidence).describe()}, but its table reads them with a "
            f"{fmt.describe()} like its earlier files: columns that are numbers only that way stay text"
        )
    return Read(frame, dtypes, casts, fmt, depends, evidence, tuple(notes), text_read=frozenset(names))
