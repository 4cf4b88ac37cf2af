"""What reading one landing file gives: its columns as read, their typed form, and what was detected.

A CSV file is read as text and typed by rat (numbers in the table's number format, booleans), so
its exact text stays at hand: when its table keeps a column as text, the file's rows get the text
the file had, never a number turned back into text. JSON and Parquet columns are typed as read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine.delta_types import delta_dtype
from rat_tui.engine.errors import first_line
from rat_tui.engine.ingest.numbers import ColumnKind, NumberFormat, parse_expr, plain_digits, render
from rat_tui.engine.ingest.text import UnreadableFile

if TYPE_CHECKING:
    import polars as pl

    from rat_tui.engine.landing_options import ColumnType

Caster = Callable[[Any], Any]  # the column's expression -> its typed expression


@dataclass
class Read:
    """One landing file's rows. `raw` holds its columns as read (text, for CSV); `casts` turn the
    columns rat types itself into their typed form; `dtypes` is each column's type once cast."""

    raw: Any  # pl.DataFrame, or pl.LazyFrame for a file streamed into its own commit
    dtypes: dict[str, Any]
    casts: dict[str, Caster] = field(default_factory=dict)
    number_format: NumberFormat | None = None  # how its numbers were read
    depends_on_format: bool = False  # whether another decimal mark would type a column otherwise
    evidence: str | None = None  # the decimal mark its own values show, if any
    notes: tuple[str, ...] = ()  # what was detected, for the ingest line ("the records under data")
    scratch: tuple[Path, ...] = ()  # temporary files to delete once committed
    text_read: frozenset[str] = frozenset()  # columns whose `raw` is the text the file wrote (CSV)

    @property
    def lazy(self) -> bool:
        import polars as pl

        return isinstance(self.raw, pl.LazyFrame)

    @property
    def columns(self) -> list[str]:
        return list(self.dtypes)

    def typed(self, name: str) -> pl.Expr:
        import polars as pl

        cast = self.casts.get(name)
        return cast(pl.col(name)) if cast else pl.col(name)

    def is_text_read(self, name: str) -> bool:
        """Whether `raw` holds the column as the text the file wrote (rat types it, if at all)."""
        return name in self.text_read

    def frame(self) -> Any:
        """The typed rows."""
        if not self.casts:
            return self.raw
        return self.raw.with_columns([self.typed(n).alias(n) for n in self.casts])

    def renamed(self, mapping: dict[str, str]) -> Read:
        mapping = {old: new for old, new in mapping.items() if old != new}
        if not mapping:
            return self
        return replace(
            self,
            raw=self.raw.rename(mapping),
            casts={mapping.get(n, n): c for n, c in self.casts.items()},
            dtypes={mapping.get(n, n): t for n, t in self.dtypes.items()},
            text_read=frozenset(mapping.get(n, n) for n in self.text_read),
        )


def sql_type(dtype: Any) -> str:
    """A polars type in the words DuckDB's DESCRIBE uses (what the user sees in rat)."""
    import polars as pl

    if isinstance(dtype, pl.Struct):
        return "STRUCT(" + ", ".join(f"{f.name} {sql_type(f.dtype)}" for f in dtype.fields) + ")"
    if isinstance(dtype, (pl.List, pl.Array)):
        return sql_type(dtype.inner) + "[]"
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP WITH TIME ZONE" if dtype.time_zone else "TIMESTAMP"
    names = (
        (pl.Int8, "TINYINT"),
        (pl.Int16, "SMALLINT"),
        (pl.Int32, "INTEGER"),
        (pl.Int64, "BIGINT"),
        (pl.Float32, "FLOAT"),
        (pl.Float64, "DOUBLE"),
        (pl.String, "VARCHAR"),
        (pl.Boolean, "BOOLEAN"),
        (pl.Date, "DATE"),
        (pl.Binary, "BLOB"),
        (pl.Null, "NULL"),
    )
    return next((name for t, name in names if dtype == t), str(dtype).upper())


def clean_names(names: list[str]) -> list[str]:
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


def storable(read: Read) -> Read:
    """The read with clean column names and types Delta stores, once Delta can store its columns."""
    import polars as pl

    names = read.columns
    read = read.renamed(dict(zip(names, clean_names(names), strict=True)))
    fixes = {n: delta_dtype(t) for n, t in read.dtypes.items() if delta_dtype(t) != t}
    if fixes:
        casts = dict(read.casts)
        for n, t in fixes.items():
            casts[n] = _then_cast(casts.get(n), t)
        read = replace(read, casts=casts, dtypes={**read.dtypes, **fixes})
    try:
        pl.DataFrame(schema=read.dtypes).to_arrow()
    except (Exception, pl.exceptions.PanicException) as exc:
        raise UnreadableFile(f"its columns cannot be stored in a Delta table ({first_line(exc)})") from None
    return read


def _then_cast(inner: Caster | None, dtype: Any) -> Caster:
    def cast(column: Any) -> Any:
        return (inner(column) if inner else column).cast(dtype)

    return cast


def json_text(column: Any) -> Any:
    """Any value as its JSON text (`"abc"`, `{"b":1}`, `[1,2]`, `true`); NULL stays NULL."""
    import polars as pl

    encoded = pl.struct(column.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")
    return pl.when(column.is_null()).then(None).otherwise(encoded)


def declared(read: Read, columns: dict[str, ColumnType], fmt: NumberFormat, where: str) -> Read:
    """Apply `[landing.<name>.columns]` types: a column declared text keeps the file's text; others
    are parsed from it (or cast), and a value that does not parse quarantines the file, naming it."""
    import polars as pl

    if not columns:
        return read
    lower = {n.lower(): n for n in read.columns}
    casts, dtypes = dict(read.casts), dict(read.dtypes)
    for wanted, ctype in columns.items():
        name = lower.get(wanted.lower())
        if name is None:
            continue
        raw_text = read.is_text_read(name)
        base = None if raw_text else read.casts.get(name)  # a JSON or Parquet column's typed form
        source = pl.String if raw_text else read.dtypes[name]
        caster, dtype = _declared_caster(ctype, fmt, source, base, raw_text)
        if caster is None:
            casts.pop(name, None)  # the text the file wrote
        else:
            casts[name] = caster
            if not read.lazy:
                _check_declared(read.raw, name, caster, ctype, where)
        dtypes[name] = dtype
    return replace(read, casts=casts, dtypes=dtypes)


def _declared_caster(
    ctype: ColumnType, fmt: NumberFormat, source: Any, base: Caster | None, raw_text: bool
) -> tuple[Caster | None, Any]:
    """How a column of type `source` (its typed form: `base` of the column) becomes the declared type."""
    import polars as pl

    def src(column: Any) -> Any:
        return base(column) if base else column

    if ctype.kind == "text" or (ctype.kind == "json" and raw_text):
        if source == pl.String:
            return (src if base else None), pl.String
        return (lambda c: render(src(c), source, fmt.decimal)), pl.String
    if ctype.kind == "json":
        return (lambda c: json_text(src(c))), pl.String
    targets = {"integer": pl.Int64, "double": pl.Float64, "boolean": pl.Boolean}
    target: Any = pl.Decimal(ctype.precision, ctype.scale) if ctype.kind == "decimal" else targets.get(ctype.kind)
    if source != pl.String:
        if target is None:  # a date or timestamp from a typed column
            target = pl.Date if ctype.kind == "date" else pl.Datetime("us")
        return (lambda c: src(c).cast(target, strict=True)), target
    if ctype.kind in ("integer", "double"):
        return (lambda c: parse_expr(src(c), ColumnKind(ctype.kind, True), fmt, strict=True)), target
    if ctype.kind == "boolean":
        return (lambda c: parse_expr(src(c), ColumnKind("boolean"), fmt, strict=True)), pl.Boolean
    if ctype.kind == "decimal":
        return (lambda c: _decimal(src(c), fmt, ctype.scale, target)), target
    if ctype.kind == "date":
        return (lambda c: src(c).str.strip_chars().str.to_date(ctype.format or "%Y-%m-%d", strict=True)), pl.Date
    return (lambda c: src(c).str.strip_chars().str.to_datetime(ctype.format, time_unit="us", strict=True)), pl.Datetime(
        "us"
    )


def _decimal(text: Any, fmt: NumberFormat, scale: int, target: Any) -> Any:
    """Number text as an exact decimal; more decimals than the scale holds fail (never rounded)."""
    import polars as pl

    digits = plain_digits(text.str.strip_chars(), fmt)
    fits = digits.str.contains(rf"^-?[0-9]+(?:\.[0-9]{{0,{scale}}})?$")
    return pl.when(fits.replace_strict({True: True}, return_dtype=pl.Boolean)).then(digits.cast(target, strict=True))


def _check_declared(frame: Any, name: str, caster: Caster, ctype: ColumnType, where: str) -> None:
    """Name the first row whose value the declared type cannot hold."""
    import polars as pl

    try:
        frame.select(caster(pl.col(name)))
        return
    except Exception:
        pass
    column = frame.get_column(name)
    for i, value in enumerate(column.to_list(), 1):
        if value is None:
            continue
        try:
            pl.DataFrame({name: [value]}, schema={name: column.dtype}).select(caster(pl.col(name)))
        except Exception:
            raise UnreadableFile(
                f"column {name!r} is declared {ctype.describe()} in {where} but row {i} holds {value!r}; "
                "fix the file or the declared type"
            ) from None
