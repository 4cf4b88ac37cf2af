"""What Delta Lake stores, and what rat stores instead of what it cannot: the one type policy of
the ingest (polars frames) and of the builds (DuckDB results)."""

from __future__ import annotations

import re
from typing import Any

# DuckDB types that Delta Lake cannot hold, and what rat stores instead.
TYPE_FIXES = [
    (re.compile(r"^(UTINYINT|USMALLINT)$"), "INTEGER"),
    (re.compile(r"^UINTEGER$"), "BIGINT"),
    (re.compile(r"^(UBIGINT|HUGEINT|UHUGEINT)$"), "DECIMAL(38,0)"),
    (re.compile(r"^(TIMESTAMP_NS|TIMESTAMP_MS|TIMESTAMP_S)$"), "TIMESTAMP"),
    (re.compile(r"^(TIME|TIME WITH TIME ZONE|INTERVAL|UUID|BIT|BIGNUM|VARINT|\"NULL\"|NULL|ENUM\(.*\))$"), "VARCHAR"),
]
NESTED_BAD = re.compile(
    r"\b(UTINYINT|USMALLINT|UINTEGER|UBIGINT|HUGEINT|UHUGEINT|TIME|INTERVAL|UUID|ENUM|BIT|\"NULL\")\b"
)


def delta_safe_type(duck_type: str) -> str | None:
    """The type a DuckDB column of `duck_type` is cast to before it is stored; None: as it is."""
    t = duck_type.strip().upper()
    for pattern, target in TYPE_FIXES:
        if pattern.match(t):
            return target
    if any(ch in t for ch in "([") and NESTED_BAD.search(t):
        return "VARCHAR"
    return None


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
