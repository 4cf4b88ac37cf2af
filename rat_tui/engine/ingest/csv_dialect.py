"""How a CSV file is written: delimiter, quote, header, title rows above the header; and where a
file breaks the shape its header promises (a ragged row, a quote never closed)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rat_tui.engine.errors import first_line
from rat_tui.engine.ingest.text import UnreadableFile, snippet

# Delimiters tried when DuckDB's sniffer sees a single column (it does not consider `^` or `~`).
DELIMITERS = (",", ";", "\t", "|", "^", "~")
_LETTER = re.compile(r"[^\W\d_]")
TITLE_SAMPLE = 65536  # characters looked at for title rows above the header
MAX_TITLE_ROWS = 30


@dataclass(frozen=True)
class Dialect:
    separator: str
    quote_char: str
    has_header: bool
    skip_rows: int = 0  # lines above the header (a spreadsheet's title rows)

    def polars(self) -> dict[str, Any]:
        return {"separator": self.separator, "quote_char": self.quote_char, "has_header": self.has_header}


def sniff(path: Path, skip: int = 0, delimiter: str | None = None) -> tuple[Dialect, int]:
    """The dialect DuckDB finds in the file (after `skip` lines), and how many columns it sees."""
    import duckdb

    from rat_tui.engine.query import first_row, scratch

    row = None
    error: Exception | None = None
    sql = "SELECT Delimiter, Quote, HasHeader, len(Columns) FROM sniff_csv(?, sample_size = 20480, encoding = ?"
    params: list[Any] = [str(path)]
    if skip:
        sql += f", skip = {int(skip)}"
    if delimiter:
        sql += ", delim = ?"
    for encoding in ("utf-8", "latin-1"):  # an old ERP's Latin-1 export should load, not be refused
        for long_lines in ("", ", max_line_size = 1073741824"):  # a line past 2 MB (a document in a cell)
            try:
                args = [*params, encoding] + ([delimiter] if delimiter else [])
                row = first_row(scratch().execute(sql + long_lines + ")", args))
                break
            except duckdb.Error as exc:
                error = exc
                if "max_line_size" not in str(exc) and "Maximum line size" not in str(exc):
                    break
        if row is not None:
            break
    if row is None:
        raise UnreadableFile(f"not a readable CSV file ({first_line(error or ValueError('no dialect'))})")
    found, quote, header, columns = row
    quote = quote if quote and len(quote) == 1 else '"'
    if len(found) != 1:
        raise UnreadableFile(f"CSV delimiter {found!r} is not a single character")
    return Dialect(found, quote, bool(header), skip), int(columns or 0)


def guess_delimiter(text: str) -> str | None:
    """The delimiter the header line uses most, for a file DuckDB's sniffer reads as one column."""
    header = next((ln for ln in io.StringIO(text) if ln.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def title_rows(text: str, delimiter: str | None = None) -> tuple[int, str] | None:
    """(lines above the header, delimiter) for a spreadsheet export with title rows ("Sales report
    Q1", "Exported on ...", blank lines) above its header, or None when the first line is the header.

    The header is the first row with at least two filled cells (nearly all of them) whose width every
    later row shares; each row above it is blank, has a single cell of text, or has another width.
    """
    sample = text[:TITLE_SAMPLE]
    truncated = len(text) > TITLE_SAMPLE
    if delimiter and _plain_start(sample, delimiter):
        return None
    best: tuple[int, int, str] | None = None  # (width, skip, delimiter)
    for d in dict.fromkeys([delimiter, *DELIMITERS]):
        if d is None:
            continue
        found = _header_row(sample, d, truncated)
        if found is not None and (best is None or found[1] > best[0]):
            best = (found[1], found[0], d)
    if best is None or best[1] == 0:
        return None
    return best[1], best[2]


def _plain_start(sample: str, d: str) -> bool:
    """The common case, cheaply: the first lines all hold the same number of delimiters and the first
    has two filled cells, so the first line is the header (no title rows to look for)."""
    lines = sample.split("\n", 6)[:6]
    if len(lines) > 1 and len(sample) == len("\n".join(lines)):
        lines = [ln for ln in lines if ln.strip()]  # the whole file: its last line is whole too
    else:
        lines = [ln for ln in lines[:-1] if ln.strip()]
    if not lines or '"' in lines[0]:
        return False
    counts = {ln.count(d) for ln in lines}
    return len(counts) == 1 and counts != {0} and sum(1 for c in lines[0].split(d) if c.strip()) >= 2


def _header_row(sample: str, d: str, truncated: bool) -> tuple[int, int] | None:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=d)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > 200:
                break
    except csv.Error:
        return None
    if truncated and rows:
        rows.pop()  # probably cut in the middle
    filled = [sum(1 for c in r if c.strip()) for r in rows]
    for h in range(min(len(rows), MAX_TITLE_ROWS + 1)):
        width = len(rows[h])
        if filled[h] < 2 or filled[h] < 0.8 * width:
            continue
        later = [len(rows[i]) for i in range(h + 1, len(rows)) if filled[i]]
        if not later or any(w != width for w in later):
            continue
        above_ok = all(
            filled[i] == 0 or len(rows[i]) != width or (filled[i] == 1 and _LETTER.search("".join(rows[i])))
            for i in range(h)
        )
        if not above_ok:
            return None
        if h and "".join(sample.splitlines(keepends=True)[:h]).count("\n") != h:
            return None  # a title row holding a quoted line break: leave the file as it is
        return h, width
    return None


def check_fields(text: str, dialect: Dialect) -> None:
    """Raise UnreadableFile at the first record whose field count differs from the header's, or at a
    quoted value never closed: polars would pad a short row with NULLs (shifting a row with a
    missing field) or fail with a message about types."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=dialect.separator, quotechar=dialect.quote_char, strict=True
    )
    first = "the header has" if dialect.has_header else "line 1 has"
    expected: int | None = None
    start = 1
    offset = dialect.skip_rows  # the lines above the header, for line numbers the user's editor shows
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):  # blank lines are skipped
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    line = text.split("\n")[start - 1] if len(row) < 1000 else ""
                    raise UnreadableFile(
                        f"line {start + offset} has {len(row)} field{'s' if len(row) != 1 else ''} but {first} "
                        f"{expected} (separator {dialect.separator!r}): {snippet(line)}"
                    )
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise UnreadableFile(
                f"the quoted value that starts on line {start + offset} is never closed (a missing {dialect.quote_char})"
            ) from None
        # Another quoting oddity polars may read fine: nothing more to say than polars.


def header_names(text: str, dialect: Dialect, width: int) -> list[str] | None:
    """The header's names as the CSV standard reads them (polars keeps `""` doubled in a header)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.separator, quotechar=dialect.quote_char)
    try:
        names = next((row for row in reader if row), None)
    except csv.Error:
        return None
    return names if names is not None and len(names) == width else None


def skip_lines(text: str, lines: int) -> str:
    """The text after its first `lines` lines."""
    if not lines:
        return text
    parts = text.split("\n", lines)
    return parts[lines] if len(parts) > lines else ""
