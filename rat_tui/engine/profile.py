"""A table's profile, as the table screen shows it: a preview, the row count, the schema, and per
column DuckDB's SUMMARIZE, its top values and, for numbers and dates with many values, a histogram."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rat_tui.engine.query import qualified, quote_ident

if TYPE_CHECKING:
    import pyarrow as pa

    from rat_tui.engine.query import Session
    from rat_tui.engine.records import ModelSource
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace

PREVIEW_ROWS = 200
PROFILE_COLUMNS = 40
TOP_VALUES = 5


@dataclass(frozen=True)
class ColumnProfile:
    column: str
    type: str
    summary: tuple[
        Any, ...
    ]  # SUMMARIZE's row: name, type, min, max, approx_unique, avg, std, q25, q50, q75, count, null%
    top: list[tuple[Any, int]]  # the most frequent values and their counts
    hist: list[tuple[str, int]]  # (range label, count); [] when top values say it better


@dataclass(frozen=True)
class TableProfile:
    table: str
    preview: pa.Table  # the first PREVIEW_ROWS rows
    total: int
    schema: list[tuple[str, str]]
    columns: list[ColumnProfile]  # the first PROFILE_COLUMNS columns


def profile_table(session: Session, table: str) -> TableProfile:
    con = session.con
    name = qualified(table)
    preview = con.sql(f"SELECT * FROM {name} LIMIT {PREVIEW_ROWS}").to_arrow_table()
    total = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
    summary = con.sql(f"SUMMARIZE {name}").fetchall()
    columns = []
    for row in summary[:PROFILE_COLUMNS]:
        col = quote_ident(row[0])
        top = con.execute(f"SELECT {col}, count(*) AS n FROM {name} GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP_VALUES}")
        try:
            hist = histogram(con, name, row[0], row[1], row[4])
        except Exception:  # an odd type or value: the top values still say something
            hist = []
        columns.append(ColumnProfile(row[0], row[1], tuple(row), [tuple(t) for t in top.fetchall()], hist))
    return TableProfile(table, preview, total, [(r[0], r[1]) for r in summary], columns)


NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
           "FLOAT", "DOUBLE", "DECIMAL", "REAL")  # fmt: skip
HIST_BINS = 10


def histogram(con: Any, table: str, column: str, kind: str, distinct: Any) -> list[tuple[str, int]]:
    """Equal-width bins over a numeric or date column with many values: [(range label, count)].

    Columns with few distinct values (≤ HIST_BINS) are better shown as their top values.
    """
    base = kind.split("(")[0].upper()
    is_date = base in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
    if base not in NUMERIC and not is_date:
        return []
    try:
        if int(distinct or 0) <= HIST_BINS:
            return []
    except (TypeError, ValueError):
        return []
    col = quote_ident(column)
    value = f"epoch({col})" if is_date else f"CAST({col} AS DOUBLE)"
    rows = con.execute(
        f"""WITH v AS (SELECT x FROM (SELECT {value} AS x FROM {table} WHERE {col} IS NOT NULL) WHERE isfinite(x)),
        b AS (SELECT min(x) AS lo, max(x) AS hi FROM v)
        SELECT least(CAST(floor((x - lo) / nullif(hi - lo, 0) * {HIST_BINS}) AS INTEGER), {HIST_BINS - 1}) AS bin,
               count(*), any_value(lo), any_value(hi)
        FROM v, b GROUP BY bin ORDER BY bin"""
    ).fetchall()
    if not rows or rows[0][0] is None:
        return []
    lo, hi = rows[0][2], rows[0][3]
    if lo is None or hi is None or hi <= lo:
        return []  # one value: its top-values bar says it
    width = (hi - lo) / HIST_BINS
    counts = {r[0]: r[1] for r in rows}

    def label(x: float) -> str:
        if is_date:
            from datetime import UTC, datetime

            # Days for a long range; hours and minutes (UTC) when it spans under two days.
            return datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d" if hi - lo >= 2 * 86400 else "%m-%d %H:%M")
        return f"{x:.4g}"

    return [(f"{label(lo + i * width)} – {label(lo + (i + 1) * width)}", counts.get(i, 0)) for i in range(HIST_BINS)]


def model_source(ws: Workspace, state: State, table: str) -> ModelSource:
    """The model file (text, materialization, checks) that builds `table`, or for a bronze table
    its landing folder and the files the ledger holds for it."""
    from rat_tui.engine.models import discover
    from rat_tui.engine.records import ModelSource

    model = discover(ws).get(table)
    if model is None:
        files = [(str(f[0]), f[1], str(f[2]), str(f[3])) for f in state.files_of(table)]
        return ModelSource(table, None, "", "sql", None, [], None, f"landing/{table.split('.', 1)[1]}/", files)
    checks_file = model.path.with_name(f"{model.path.stem}.checks.sql")
    return ModelSource(
        table,
        model.path.relative_to(ws.root).as_posix(),
        model.sql,
        "python" if model.is_python else "sql",
        model.materialized,
        [c.name for c in model.checks],
        checks_file.relative_to(ws.root).as_posix() if checks_file.is_file() else None,
        None,
        [],
    )
