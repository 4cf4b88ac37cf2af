"""A bronze table's columns as files arrive: which type holds every file's values, and what changed.

The rules, in order (no rule changes a value):
- a column a file adds is added; the table's earlier rows read NULL in it;
- integers beside decimals become DOUBLE (unless an integer is too large for a DOUBLE: then text);
- objects with other fields become a STRUCT with all of them; lists of them likewise;
- anything else that differs (text in a number column, a boolean beside a number, an object beside
  text) makes the column text: earlier rows are written as text in the table's number format
  (`999,16` in a decimal-comma table), nested values as their JSON text, and the new file's rows
  keep the exact text the file had.
Every change is a SchemaChange: announced at ingest, kept in the commit's metadata and state.sqlite.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rat_tui.engine.ingest.frames import Read, sql_type
from rat_tui.engine.ingest.numbers import render

MAX_EXACT_INT = 2**53  # integers up to this size are exact in a DOUBLE


@dataclass(frozen=True)
class SchemaChange:
    """One column of a bronze table that a file added or changed."""

    column: str
    change: str  # added | widened | nested
    old_type: str | None  # SQL type before (None when added)
    new_type: str
    file: str  # the landing file (relative to landing/) that caused it
    example: str | None = None  # a value of that file the old type could not hold

    def describe(self, table: str) -> str:
        where = f"landing/{self.file}"
        if self.change == "added":
            return f"schema change in {table}: column {self.column!r} added ({self.new_type}) by {where}; earlier rows read NULL"
        because = f" ({self.example!r} is not {_article(self.old_type)})" if self.example is not None else ""
        verb = "widened" if self.change == "widened" else "changed"
        return f"schema change in {table}: column {self.column!r} {verb} {self.old_type} -> {self.new_type} by {where}{because}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summary(changes: list[dict[str, Any]]) -> str:
    """A version's schema changes in a few words: `+Note; Amount (EUR) DOUBLE->VARCHAR`."""
    parts = []
    for c in changes:
        if c.get("change") == "added":
            parts.append(f"+{c.get('column')}")
        else:
            parts.append(f"{c.get('column')} {c.get('old_type')}->{c.get('new_type')}")
    return "; ".join(parts)


def _article(sql: str | None) -> str:
    text = sql or "?"
    return ("an " if text[:1] in "AEIOU" else "a ") + text


def _is_nested(dt: Any) -> bool:
    import polars as pl

    return isinstance(dt, (pl.Struct, pl.List, pl.Array))


def supertype(a: Any, b: Any) -> Any:
    """The type that holds values of both without changing one (see the module's rules)."""
    import polars as pl

    if a == b:
        return a
    if a == pl.Null:
        return b
    if b == pl.Null:
        return a
    if a == pl.String or b == pl.String:
        return pl.String
    if isinstance(a, pl.Struct) and isinstance(b, pl.Struct):
        fields = {f.name: f.dtype for f in a.fields}
        for f in b.fields:
            fields[f.name] = supertype(fields[f.name], f.dtype) if f.name in fields else f.dtype
        return pl.Struct(fields)
    if isinstance(a, pl.List) and isinstance(b, pl.List):
        inner = supertype(a.inner, b.inner)
        mixed = inner == pl.String and (_is_nested(a.inner) or _is_nested(b.inner))
        return pl.String if mixed else pl.List(inner)
    if _is_nested(a) or _is_nested(b) or a == pl.Boolean or b == pl.Boolean:
        return pl.String
    if a.is_numeric() and b.is_numeric():
        try:
            joined = pl.concat([pl.DataFrame(schema={"x": a}), pl.DataFrame(schema={"x": b})], how="vertical_relaxed")
            return joined.schema["x"]
        except Exception:
            return pl.String
    return pl.String


def unify(table: dict[str, Any], files: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], list[SchemaChange]]:
    """The table's columns after these files (relative path, dtypes) land, and what changed (for an
    existing table: a new table has no earlier schema to change)."""
    target = dict(table)
    first_with: dict[str, str] = {}
    for rel, dtypes in files:
        for name, dtype in dtypes.items():
            if name not in target:
                target[name] = dtype
                first_with[name] = rel
            else:
                target[name] = supertype(target[name], dtype)
    changes: list[SchemaChange] = []
    if not table:
        return target, changes
    for name, dtype in target.items():
        if name not in table:
            changes.append(SchemaChange(name, "added", None, sql_type(dtype), first_with[name]))
        elif dtype != table[name]:
            import polars as pl

            cause = next(rel for rel, dtypes in files if name in dtypes and dtypes[name] != table[name])
            kind = "nested" if _is_nested(table[name]) and dtype != pl.String else "widened"
            changes.append(SchemaChange(name, kind, sql_type(table[name]), sql_type(dtype), cause))
    return target, changes


def convert(expr: Any, source: Any, target: Any, decimal: str) -> Any:
    """A column of type `source` as `target` (a supertype of it): text as the module says, else a
    strict cast (a value that does not fit fails the ingest, never becomes NULL)."""
    import polars as pl

    if source == target:
        return expr
    if target == pl.String:
        return render(expr, source, decimal)
    return expr.cast(target, strict=True)


def conform_read(read: Read, target: dict[str, Any], decimal: str) -> Any:
    """The file's rows with exactly `target`'s columns: its text where the table keeps text."""
    import polars as pl

    if not read.lazy and not any(n in read.dtypes for n in target):
        # Selecting only literals would make one row of a file with none (`[]`): build its rows.
        height = read.raw.height
        return pl.DataFrame([pl.Series(n, [None] * height, dtype=t) for n, t in target.items()])
    exprs = []
    for name, dtype in target.items():
        if name not in read.dtypes:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif dtype == pl.String and read.is_text_read(name):
            exprs.append(pl.col(name).alias(name))  # the text the file had, not a number turned back
        else:
            exprs.append(convert(read.typed(name), read.dtypes[name], dtype, decimal).alias(name))
    return read.raw.select(exprs)


def conform_old(frame: Any, current: dict[str, Any], target: dict[str, Any], decimal: str) -> Any:
    """The table's earlier rows rewritten in `target`'s columns (a widening rewrites the table)."""
    import polars as pl

    exprs = []
    for name, dtype in target.items():
        if name not in current:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        else:
            exprs.append(convert(pl.col(name), current[name], dtype, decimal).alias(name))
    return frame.select(exprs)


def example(read: Read, column: str, old: Any, decimal: str) -> str | None:
    """A value of the file's column that the table's old type cannot hold (for the announcement)."""
    import polars as pl

    from rat_tui.engine.ingest.numbers import INT_RE, NumberFormat, number_re

    if column not in read.dtypes:
        return None
    if not read.is_text_read(column):
        # Typed as read (JSON, Parquet): a string is text whatever it says ("2" is not a number).
        if read.dtypes[column] != pl.String:
            return None
        values = pl.col(column)
        bad = values.is_not_null()
    else:
        values = pl.col(column).str.strip_chars()
        if old == pl.Boolean:
            bad = ~values.str.contains(r"(?i)^(?:true|false)$")
        elif old.is_integer():
            bad = ~values.str.contains(INT_RE)
        elif old.is_numeric():
            bad = ~values.str.contains(number_re(NumberFormat(decimal)))
        else:
            bad = values.is_not_null()
    found = read.raw.select(values.filter(bad & values.is_not_null()).first())
    if hasattr(found, "collect"):
        found = found.collect()
    value = found.item() if found.height else None
    return None if value is None else str(value)[:40]


def exact_as_double(frame: Any, column: str) -> bool:
    """Whether an integer column's values are all exact in a DOUBLE."""
    import polars as pl

    result = frame.select(pl.col(column).abs().max())
    if hasattr(result, "collect"):
        result = result.collect()
    biggest = result.item()
    return biggest is None or biggest <= MAX_EXACT_INT
