"""Read options for the files of one landing folder: `[landing.<name>]` in rat.toml.

Sniffing guesses right for most exports; these settle what it cannot know (a `;` export with
`1.234` meaning one thousand, title rows above the header, a column of zip codes that must stay
text). The key is the folder's (or loose file's) name, or the bronze table's name.
Kept apart from the ingest package so that the settings can be read without importing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("csv", "json", "ndjson", "parquet")
ENCODINGS = ("utf-8", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be")
# Declared column types and what each is written as in bronze.
COLUMN_TYPES = ("text", "integer", "double", "decimal(P,S)", "boolean", "date", "timestamp", "json")
_TYPE_ALIASES = {
    "text": "text",
    "string": "text",
    "varchar": "text",
    "int": "integer",
    "integer": "integer",
    "bigint": "integer",
    "double": "double",
    "float": "double",
    "number": "double",
    "bool": "boolean",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "json": "json",
}
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_WITH_FORMAT = re.compile(r"^(date|timestamp)\s*\((.+)\)$")
KEYS = ("format", "delimiter", "header", "skip_rows", "decimal", "thousands", "encoding", "records", "columns")


@dataclass(frozen=True)
class ColumnType:
    """A declared type: `kind` is one of text, integer, double, decimal, boolean, date, timestamp, json."""

    kind: str
    precision: int = 0
    scale: int = 0
    format: str | None = None  # strptime format of a date or timestamp, e.g. %d.%m.%Y

    def describe(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return f"{self.kind}({self.format})" if self.format else self.kind


@dataclass(frozen=True)
class LandingOptions:
    """How to read a landing folder's files; None means "sniff it"."""

    format: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    skip_rows: int | None = None
    decimal: str | None = None
    thousands: str | None = None  # "" means no thousands separator at all
    encoding: str | None = None
    records: str | None = None  # JSON: dotted path to the list of records; "" = the document itself
    columns: dict[str, ColumnType] = field(default_factory=dict)


def parse_column_type(text: str) -> ColumnType | None:
    """`"decimal(12,2)"`, `"date(%d.%m.%Y)"`, `"text"` ... -> ColumnType, or None if unknown."""
    t = text.strip().lower()
    if m := _DECIMAL.match(t):
        precision, scale = int(m.group(1)), int(m.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            return None
        return ColumnType("decimal", precision, scale)
    if m := _WITH_FORMAT.match(text.strip()):
        return ColumnType(m.group(1).lower(), format=m.group(2).strip())
    kind = _TYPE_ALIASES.get(t)
    return ColumnType(kind) if kind else None


def parse_landing(raw: Any, bad: Callable[[str, str], Exception]) -> dict[str, LandingOptions]:
    """`[landing.<name>]` tables -> options by name; `bad(key, why)` makes the error to raise."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad("landing", "must be a table of folders: [landing.<folder>]")
    out: dict[str, LandingOptions] = {}
    for name, spec in raw.items():
        key = f"landing.{name}"
        if not isinstance(spec, dict):
            raise bad(key, 'must be a table of read options, e.g. delimiter = ";"')
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise bad(f"{key}.{unknown[0]}", f"is not a read option; the options are {', '.join(KEYS)}")
        out[name] = _options(spec, key, bad)
    return out


def _options(spec: dict[str, Any], key: str, bad: Callable[[str, str], Exception]) -> LandingOptions:
    fmt = spec.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise bad(f"{key}.format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
    delimiter = spec.get("delimiter")
    if delimiter is not None and not (isinstance(delimiter, str) and len(delimiter) == 1 and delimiter not in '\r\n"'):
        raise bad(f"{key}.delimiter", f'must be one character, like ";" or "\\t", not {delimiter!r}')
    header = spec.get("header")
    if header is not None and not isinstance(header, bool):
        raise bad(f"{key}.header", f"must be true or false, not {header!r}")
    skip = spec.get("skip_rows")
    if skip is not None and (not isinstance(skip, int) or isinstance(skip, bool) or not 0 <= skip <= 10_000):
        raise bad(f"{key}.skip_rows", f"must be a number of lines from 0 to 10000, not {skip!r}")
    decimal = spec.get("decimal")
    if decimal is not None and decimal not in (".", ","):
        raise bad(f"{key}.decimal", f'must be "." or ",", not {decimal!r}')
    thousands = spec.get("thousands")
    if thousands is not None and thousands not in ("", ",", ".", " ", "'", "\u00a0", "\u202f"):
        raise bad(f"{key}.thousands", f'must be "," "." " " "\'" or "" (none), not {thousands!r}')
    if thousands and decimal and thousands == decimal:
        raise bad(f"{key}.thousands", f"cannot be the decimal mark {decimal!r} too")
    encoding = spec.get("encoding")
    if encoding is not None and (not isinstance(encoding, str) or encoding.lower() not in ENCODINGS):
        raise bad(f"{key}.encoding", f"must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    records = spec.get("records")
    if records is not None and not isinstance(records, str):
        raise bad(
            f"{key}.records", f'must be a dotted path like "data.items" ("" for the document itself), not {records!r}'
        )
    columns_raw = spec.get("columns", {})
    if not isinstance(columns_raw, dict):
        raise bad(f"{key}.columns", 'must be a table of column = "type", e.g. { zip = "text" }')
    columns: dict[str, ColumnType] = {}
    for column, type_text in columns_raw.items():
        parsed = parse_column_type(type_text) if isinstance(type_text, str) else None
        if parsed is None:
            raise bad(f"{key}.columns.{column}", f"must be one of {', '.join(COLUMN_TYPES)}, not {type_text!r}")
        columns[column] = parsed
    return LandingOptions(
        format=fmt,
        delimiter=delimiter,
        header=header,
        skip_rows=skip,
        decimal=decimal,
        thousands=thousands,
        encoding=encoding.lower() if isinstance(encoding, str) else None,
        records=records,
        columns=columns,
    )


def options_for(landing: dict[str, LandingOptions], folder: str, table: str) -> LandingOptions:
    """The options of a landing folder (or loose file's stem) `folder`, which lands in `table`."""
    short = table.split(".", 1)[1]
    for key in (folder, short, table):
        if key in landing:
            return landing[key]
    lowered = {k.lower(): v for k, v in landing.items()}
    return lowered.get(folder.lower()) or lowered.get(short) or LandingOptions()
