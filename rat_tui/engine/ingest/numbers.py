"""Numbers written as text: which columns of a CSV hold numbers, and how they are written.

Exports write numbers the way their locale does: `1.234,50` (German), `1 234,50` (French),
`1,234.50` (US), `1'234.50` (Swiss). A column is a number column when every value is a number
in one *number format*: a decimal mark (`.` or `,`) with optional thousands separators (the other
mark, a space, a no-break space or `'`, in groups of three). The decimal mark is settled per
table, not per file, so one file's `1.234` (one thousand, next to `1.234,50`) and another's
`1.234` never mean different things in the same table:

  1. `decimal` in the folder's `[landing.<name>]` settles it;
  2. else the mark the table's earlier files used (kept in state.sqlite);
  3. else the file's own values show it: `12,5`, `1.234,50` or `1.234.567` can only be decimal-comma
     numbers, `12.5`, `1,234.50` or `1e3` only decimal-point ones;
  4. else (every value ambiguous, like `1.234`) the separator decides as Excel does: a `;` file
     comes from a decimal-comma locale; anything else reads `.` as the decimal mark.

Values with leading zeros (`007`, zip codes, account numbers) keep the column text; so do `+49...`
phone numbers. Booleans are `true`/`false` in any case. Dates stay text (silver parses them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

MARKS = (".", ",")
_SPACES = " '\u00a0\u202f"
INT_RE = r"^-?(?:0|[1-9][0-9]*)$"
SPECIAL_RE = r"(?i)^-?(?:nan|inf|infinity)$"
LEADING_ZERO_RE = r"^-?0[0-9]"
BOOL_RE = r"(?i)^(?:true|false)$"
INT64_DIGITS = 18  # plain integers longer than this may not fit a BIGINT: they stay text


@dataclass(frozen=True)
class NumberFormat:
    """How a table's files write numbers: the decimal mark, and the thousands separator if fixed."""

    decimal: str  # "." or ","
    thousands: str | None = None  # None: any usual separator; "": none allowed
    source: str = "default"  # configured | table | file | separator | default

    def describe(self) -> str:
        return "decimal comma" if self.decimal == "," else "decimal point"


def _group_class(decimal: str, thousands: str | None) -> str | None:
    if thousands == "":
        return None
    chars = thousands if thousands else ("," if decimal == "." else ".") + _SPACES
    escaped = "".join("\\" + c if c in r".\-[]^" else c for c in chars)
    return f"[{escaped}]"


def number_re(fmt: NumberFormat) -> str:
    """A regex matching one number written in `fmt` (no surrounding spaces)."""
    group = _group_class(fmt.decimal, fmt.thousands)
    mark = r"\." if fmt.decimal == "." else ","
    whole = r"0|[1-9][0-9]*" + (rf"|[1-9][0-9]{{0,2}}(?:{group}[0-9]{{3}})+" if group else "")
    exponent = r"(?:[eE][+-]?[0-9]+)?" if fmt.decimal == "." else ""
    return rf"^-?(?:(?:{whole})(?:{mark}[0-9]+)?{exponent}|{mark}[0-9]+{exponent})$"


def _fraction_re(fmt: NumberFormat) -> str:
    return r"[.eE]" if fmt.decimal == "." else ","


def _zeros() -> dict[str, int]:
    return dict.fromkeys(MARKS, 0)


@dataclass
class Profile:
    """What the values of one text column look like (counts over its non-null values)."""

    values: int = 0
    plain_ints: int = 0
    long_ints: int = 0
    leading_zeros: int = 0
    booleans: int = 0
    specials: int = 0  # NaN, inf
    padded: int = 0  # values with spaces around them
    numbers: dict[str, int] = field(default_factory=_zeros)  # decimal mark -> values that are numbers in it
    fractions: dict[str, int] = field(default_factory=_zeros)  # decimal mark -> numbers with a fractional part
    evidence: dict[str, int] = field(default_factory=_zeros)  # decimal mark -> numbers that are numbers only in it
    separated: dict[str, int] = field(default_factory=_zeros)  # decimal mark -> numbers with thousands separators

    def number_column(self, mark: str) -> bool:
        return self.values > 0 and not self.leading_zeros and self.numbers[mark] + self.specials == self.values


SMALL_CELLS = 2_000  # a frame this small is profiled in Python: polars' per-query cost would dominate


def _profile_small(frame: Any, columns: list[str], thousands: str | None) -> dict[str, Profile]:
    """`profile` for a small DataFrame, value by value (the same patterns, compiled by `re`)."""
    import re

    nums = {m: re.compile(number_re(NumberFormat(m, thousands))) for m in MARKS}
    fracs = {m: re.compile(_fraction_re(NumberFormat(m))) for m in MARKS}
    groups = {m: re.compile(g) if (g := _group_class(m, thousands)) else None for m in MARKS}
    plain_re, special_re = re.compile(INT_RE), re.compile(SPECIAL_RE)
    zero_re, bool_re = re.compile(LEADING_ZERO_RE), re.compile(BOOL_RE)
    out: dict[str, Profile] = {}
    for name in columns:
        p = Profile()
        for raw in frame.get_column(name).to_list():
            if raw is None:
                continue
            v = raw.strip()
            p.values += 1
            p.padded += v != raw
            plain = bool(plain_re.search(v))
            p.plain_ints += plain
            p.long_ints += plain and len(v) > INT64_DIGITS + v.startswith("-")
            p.leading_zeros += bool(zero_re.search(v))
            p.booleans += bool(bool_re.search(v))
            p.specials += bool(special_re.search(v))
            matched = {m: bool(nums[m].search(v)) for m in MARKS}
            for m in MARKS:
                if matched[m]:
                    p.numbers[m] += 1
                    p.fractions[m] += bool(fracs[m].search(v))
                    p.evidence[m] += not matched["," if m == "." else "."]
                    group = groups[m]
                    p.separated[m] += bool(group and group.search(v))
        out[name] = p
    return out


def _grouped(matches: Any, v: Any, group: str | None) -> Any:
    import polars as pl

    return (matches & v.str.contains(group)).sum() if group else pl.lit(0)


def profile(frame: Any, columns: list[str], thousands: str | None = None) -> dict[str, Profile]:
    """Profile text columns of a DataFrame or LazyFrame in one pass (streamed for a LazyFrame)."""
    import polars as pl

    if not columns:
        return {}
    if isinstance(frame, pl.DataFrame) and frame.height * len(columns) <= SMALL_CELLS:
        return _profile_small(frame, columns, thousands)
    formats = {m: NumberFormat(m, thousands) for m in MARKS}
    exprs: list[pl.Expr] = []
    for i, name in enumerate(columns):
        v = pl.col(name).str.strip_chars()
        matches = {m: v.str.contains(number_re(f)) for m, f in formats.items()}
        plain = v.str.contains(INT_RE)
        exprs += [
            v.is_not_null().sum().alias(f"{i}:values"),
            plain.sum().alias(f"{i}:plain"),
            (plain & (v.str.len_chars() > INT64_DIGITS + v.str.starts_with("-").cast(pl.UInt32)))
            .sum()
            .alias(f"{i}:long"),
            v.str.contains(LEADING_ZERO_RE).sum().alias(f"{i}:zeros"),
            v.str.contains(BOOL_RE).sum().alias(f"{i}:bools"),
            v.str.contains(SPECIAL_RE).sum().alias(f"{i}:specials"),
            (pl.col(name).str.len_bytes() != v.str.len_bytes()).sum().alias(f"{i}:padded"),
        ]
        for m, f in formats.items():
            other = matches["," if m == "." else "."]
            exprs += [
                matches[m].sum().alias(f"{i}:num{m}"),
                (matches[m] & v.str.contains(_fraction_re(f))).sum().alias(f"{i}:frac{m}"),
                (matches[m] & ~other).sum().alias(f"{i}:ev{m}"),
                _grouped(matches[m], v, _group_class(m, thousands)).alias(f"{i}:sep{m}"),
            ]
    selected = frame.select(exprs)
    row = (selected.collect(engine="streaming") if isinstance(selected, pl.LazyFrame) else selected).row(0)
    values = dict(zip(selected.collect_schema().names(), row, strict=True))
    out: dict[str, Profile] = {}
    for i, name in enumerate(columns):

        def g(key: str, i: int = i) -> int:
            return int(values[f"{i}:{key}"] or 0)

        out[name] = Profile(
            values=g("values"),
            plain_ints=g("plain"),
            long_ints=g("long"),
            leading_zeros=g("zeros"),
            booleans=g("bools"),
            specials=g("specials"),
            padded=g("padded"),
            numbers={m: g(f"num{m}") for m in MARKS},
            fractions={m: g(f"frac{m}") for m in MARKS},
            evidence={m: g(f"ev{m}") for m in MARKS},
            separated={m: g(f"sep{m}") for m in MARKS},
        )
    return out


def file_evidence(profiles: dict[str, Profile]) -> str | None:
    """The decimal mark a file's own values show: each number column votes for the mark its values
    can only be read in; None when no column shows one (or as many show each)."""
    votes = dict.fromkeys(MARKS, 0)
    for p in profiles.values():
        for m in MARKS:
            other = "," if m == "." else "."
            if p.number_column(m) and p.evidence[m] and not p.evidence[other]:
                votes[m] += 1
    if votes["."] == votes[","]:
        return None
    return "." if votes["."] > votes[","] else ","


@dataclass(frozen=True)
class ColumnKind:
    """How one text column is typed: `kind` is text, boolean, integer or double."""

    kind: str
    uses_format: bool = False  # its values hold a decimal mark or thousands separators
    padded: bool = True  # some values have spaces around them (stripping costs time on big files)


def column_kind(p: Profile, fmt: NumberFormat) -> ColumnKind:
    """The type a text column gets with the table's number format."""
    padded = p.padded > 0
    if p.values == 0:
        return ColumnKind("text")
    if p.booleans == p.values:
        return ColumnKind("boolean", padded=padded)
    if p.leading_zeros:
        return ColumnKind("text")
    if p.plain_ints == p.values:
        return ColumnKind("text") if p.long_ints else ColumnKind("integer", padded=padded)
    m = fmt.decimal
    if p.numbers[m] and p.number_column(m):
        fractional = p.fractions[m] + p.specials > 0
        if not fractional and p.long_ints:
            return ColumnKind("text")
        # A plain cast reads decimal points; a decimal comma or thousands separators need rat's parse.
        uses_format = m == "," or p.separated[m] > 0
        return ColumnKind("double" if fractional else "integer", uses_format=uses_format, padded=padded)
    return ColumnKind("text")


def parse_expr(column: pl.Expr, kind: ColumnKind, fmt: NumberFormat, strict: bool) -> pl.Expr:
    """The typed value of a text column. With `strict`, a value that is not of the kind makes the
    whole read fail (a streamed file typed from its first rows), instead of a silent NULL."""
    import polars as pl

    # A value with spaces around it past the rows that typed a streamed file fails the cast, and
    # the file is read again from all its rows: stripping only where the rows showed spaces.
    v = column.str.strip_chars() if kind.padded or not strict else column
    if kind.kind == "boolean":
        return v.str.to_lowercase().replace_strict({"true": True, "false": False}, return_dtype=pl.Boolean)
    dtype = pl.Int64 if kind.kind == "integer" else pl.Float64
    if not kind.uses_format:
        return v.cast(dtype, strict=True)
    parsed = plain_digits(v, fmt).cast(dtype, strict=True)
    if not strict:
        return parsed
    # Removing separators would also turn `12.5` (in a decimal-comma table) into 125: check the shape.
    shape = v.str.contains(number_re(fmt)) | v.str.contains(SPECIAL_RE)
    return pl.when(shape.replace_strict({True: True}, return_dtype=pl.Boolean)).then(parsed).otherwise(None)


def plain_digits(text: pl.Expr, fmt: NumberFormat) -> pl.Expr:
    """Number text written in `fmt` as digits with a decimal point and no separators."""
    group = _group_class(fmt.decimal, fmt.thousands)
    digits = text.str.replace_all(group, "") if group else text
    return digits.str.replace(",", ".", literal=True) if fmt.decimal == "," else digits


def render(expr: pl.Expr, dtype: Any, decimal: str) -> pl.Expr:
    """A typed column as text, for a column widened to text: numbers in the table's format (so one
    cast reads the whole column), nested values as their JSON text, booleans as true/false."""
    import polars as pl

    if isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
        encoded = pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")
        return pl.when(expr.is_null()).then(None).otherwise(encoded)
    if dtype == pl.Binary:
        return expr.bin.encode("hex")
    text = expr.cast(pl.String)
    if decimal == "," and (dtype.is_float() or isinstance(dtype, pl.Decimal)):
        return text.str.replace(".", ",", literal=True)
    return text
