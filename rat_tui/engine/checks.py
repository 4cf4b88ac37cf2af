"""Data-quality checks: declared in a model's header or in `<name>.checks.sql`, run on the staged version.

Row-level checks (not_null, accepted_values, expression) and row_count share one scan of the new
version; unique, relationships and custom SQL checks each run one query. A check fails with the
number of failing rows and a few of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine.errors import ModelError, first_line
from rat_tui.engine.query import first_row
from rat_tui.engine.words import plural

if TYPE_CHECKING:
    import duckdb

SEVERITIES = ("error", "warn")
KINDS = ("not_null", "unique", "accepted_values", "relationships", "row_count", "expression")
SAMPLE_ROWS = 5


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Check:
    """One check on a model's table; `condition` marks failing rows (row checks) or `query` lists them."""

    name: str
    severity: str
    condition: str | None = None  # a SQL boolean true on each failing row
    query: str | None = None  # a query over {table} returning the failing rows
    row_count: tuple[int | None, int | None] | None = None
    file: str | None = None  # the `<model>.checks.sql` declaring it (None: the model's own header)
    line: int | None = None  # the line of that file where its query starts


@dataclass
class CheckResult:
    name: str
    severity: str
    status: str  # pass | fail | error
    failing: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None

    @property
    def blocks(self) -> bool:
        """An error-severity check that did not pass keeps the new version from being published."""
        return self.status != "pass" and self.severity == "error"

    def describe(self) -> str:
        if self.status == "error":
            return f"check {self.name} could not run: {self.message}"
        if self.row_count_message:
            return f"check {self.name} failed: {self.row_count_message}"
        example = f", e.g. {_short(self.sample[0])}" if self.sample else ""
        return f"check {self.name} failed: {self.failing:,} row{'s' if self.failing != 1 else ''}{example}"

    @property
    def row_count_message(self) -> str | None:
        return self.message if self.name.startswith("row_count") else None


def _short(row: dict[str, Any]) -> str:
    parts = []
    for k, v in list(row.items())[:6]:
        text = "NULL" if v is None else str(v)
        parts.append(f"{k}={text[:30]}")
    return "{" + ", ".join(parts) + "}"


def _split_severity(value: Any, key: str, where: str) -> tuple[Any, str]:
    """A check's value and its severity: `x` or `{ <key> = x, severity = "warn" }`."""
    if isinstance(value, dict) and "severity" in value:
        severity = value["severity"]
        if severity not in SEVERITIES:
            raise ModelError.at(where, None, f"severity = {severity!r} is not one of error, warn")
        rest = {k: v for k, v in value.items() if k != "severity"}
        if key in rest and len(rest) == 1:
            return rest[key], severity
        return rest, severity
    return value, "error"


def _columns(value: Any, kind: str, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return value
    raise ModelError.at(where, None, f'{kind} takes a list of column names, like {kind} = ["id"]')


def parse_checks(settings: dict[str, Any], where: str) -> list[Check]:
    """The checks in a model header's [checks] table; raise ModelError naming the file on a bad one."""
    spec = settings.get("checks", {})
    if not isinstance(spec, dict):
        raise ModelError.at(where, None, "[checks] must be a table")
    out: list[Check] = []
    for kind, raw in spec.items():
        if kind not in KINDS:
            raise ModelError.at(where, None, f"unknown check {kind!r}; checks are {', '.join(KINDS)}")
        entries = raw if isinstance(raw, list) and kind in ("relationships", "expression") else [raw]
        for entry in entries:
            out.extend(_parse_one(kind, entry, where))
    return out


def _parse_one(kind: str, entry: Any, where: str) -> list[Check]:
    if kind == "not_null":
        value, severity = _split_severity(entry, "columns", where)
        return [Check(f"not_null({c})", severity, condition=f"{_q(c)} IS NULL") for c in _columns(value, kind, where)]
    if kind == "unique":
        value, severity = _split_severity(entry, "columns", where)
        checks = []
        for item in value if isinstance(value, list) else [value]:
            cols = [item] if isinstance(item, str) else _columns(item, kind, where)
            keys = ", ".join(_q(c) for c in cols)
            query = f"SELECT {keys}, count(*) AS _count FROM {{table}} GROUP BY ALL HAVING count(*) > 1 ORDER BY _count DESC"
            checks.append(Check(f"unique({', '.join(cols)})", severity, query=query))
        return checks
    if kind == "accepted_values":
        value, severity = _split_severity(entry, "", where)
        if not isinstance(value, dict) or not value:
            raise ModelError.at(where, None, 'accepted_values takes { column = ["a", "b"] }')
        checks = []
        for col, allowed in value.items():
            if not isinstance(allowed, list) or not allowed:
                raise ModelError.at(where, None, f"accepted_values.{col} must be a non-empty list")
            values = ", ".join(_lit(v) for v in allowed)
            checks.append(
                Check(
                    f"accepted_values({col})",
                    severity,
                    condition=f"{_q(col)} IS NOT NULL AND {_q(col)} NOT IN ({values})",
                )
            )
        return checks
    if kind == "relationships":
        value, severity = _split_severity(entry, "", where)
        if not isinstance(value, dict) or set(value) != {"column", "to"}:
            raise ModelError.at(
                where, None, 'relationships takes { column = "customer_id", to = "silver.customers.customer_id" }'
            )
        target = str(value["to"]).split(".")
        if len(target) != 3:
            raise ModelError.at(where, None, f"relationships.to must be layer.table.column, not {value['to']!r}")
        layer, table, col = target
        mine = _q(value["column"])
        query = (
            f"SELECT * FROM {{table}} AS t WHERE t.{mine} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {_q(layer)}.{_q(table)} AS p WHERE p.{_q(col)} = t.{mine})"
        )
        return [Check(f"relationships({value['column']} -> {value['to']})", severity, query=query)]
    if kind == "row_count":
        value, severity = _split_severity(entry, "", where)
        if not isinstance(value, dict) or not set(value) <= {"min", "max"} or not value:
            raise ModelError.at(where, None, "row_count takes { min = 1, max = 1000000 }")
        bounds = (value.get("min"), value.get("max"))
        label = ", ".join(f"{k}={v}" for k, v in value.items())
        return [Check(f"row_count({label})", severity, row_count=bounds)]
    # expression
    value, severity = _split_severity(entry, "sql", where)
    if not isinstance(value, str) or not value.strip():
        raise ModelError.at(where, None, 'expression takes a SQL boolean, like expression = "amount >= 0"')
    return [Check(f"expression({value.strip()})", severity, condition=f"NOT ({value})")]


_CHECK_NAME = re.compile(r"^\s*--\s*name:\s*(?P<v>.+?)\s*$", re.MULTILINE)
_CHECK_SEVERITY = re.compile(r"^\s*--\s*severity:\s*(?P<v>\w+)\s*$", re.MULTILINE)


def parse_checks_file(path: Path, where: str) -> list[Check]:
    """`<model>.checks.sql`: queries separated by `;`, each returning the failing rows.

    A query may carry `-- name: ...` and `-- severity: warn` comment lines. It names the model's
    table as usual (`silver.orders`); during the audit that name reads the new, unpublished version.
    """
    from rat_tui.engine.query import scratch

    text = path.read_text(encoding="utf-8")
    checks = []
    try:
        statements = scratch().extract_statements(text)
    except Exception as exc:
        raise ModelError.at(where, None, f"{first_line(exc)}") from None
    for i, stmt in enumerate(statements, 1):
        sql = stmt.query.strip().rstrip(";").strip()
        if not sql:
            continue
        name_m = _CHECK_NAME.search(sql)
        sev_m = _CHECK_SEVERITY.search(sql)
        severity = sev_m.group("v").lower() if sev_m else "error"
        if severity not in SEVERITIES:
            raise ModelError.at(where, None, f"severity {severity!r} is not one of error, warn")
        name = name_m.group("v") if name_m else f"{path.name}#{i}"
        line = text[: text.find(sql)].count("\n") + 1 if sql in text else None
        checks.append(Check(name, severity, query=f"SELECT * FROM (\n{sql}\n) AS _custom", file=where, line=line))
    return checks


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def run_checks(con: duckdb.DuckDBPyConnection, table_sql: str, checks: list[Check]) -> list[CheckResult]:
    """Run checks against `table_sql` (a FROM-able expression over the new version).

    Custom queries name the model's table; the caller points that name at the new version first.
    """
    results: list[CheckResult] = []
    row_checks = [c for c in checks if c.condition is not None]
    counts: dict[str, int | str] = {}  # check name -> failing rows, or why it could not run
    total: int | str | None = None
    if row_checks or any(c.row_count for c in checks):
        selects = ["count(*)"] + [f"count(*) FILTER (WHERE {c.condition})" for c in row_checks]
        try:
            row = list(first_row(con.execute(f"SELECT {', '.join(selects)} FROM {table_sql}")) or [])
            total = int(row[0])
            counts = {c.name: int(n) for c, n in zip(row_checks, row[1:], strict=True)}
        except Exception:
            # One check that cannot run (a type error in its expression) must not take the others
            # with it: count each on its own, so each reports its own result.
            total = _count(con, f"SELECT count(*) FROM {table_sql}")
            counts = {
                c.name: _count(con, f"SELECT count(*) FILTER (WHERE {c.condition}) FROM {table_sql}")
                for c in row_checks
            }
    for check in row_checks:
        failing = counts[check.name]
        if isinstance(failing, str):
            results.append(CheckResult(check.name, check.severity, "error", message=failing))
            continue
        result = CheckResult(check.name, check.severity, "fail" if failing else "pass", failing)
        if failing:
            result.sample = _sample(con, f"SELECT * FROM {table_sql} WHERE {check.condition} LIMIT {SAMPLE_ROWS}")
        results.append(result)
    for check in checks:
        if check.row_count is not None:
            if isinstance(total, str):
                results.append(CheckResult(check.name, check.severity, "error", message=total))
                continue
            lo, hi = check.row_count
            rows = int(total or 0)
            bad = (lo is not None and rows < lo) or (hi is not None and rows > hi)
            bounds = [f"at least {lo:,}" if lo is not None else "", f"at most {hi:,}" if hi is not None else ""]
            note = f"{plural(rows, 'row')}, expected {' and '.join(b for b in bounds if b)}" if bad else None
            results.append(CheckResult(check.name, check.severity, "fail" if bad else "pass", 0, message=note))
        elif check.query is not None:
            query = check.query.replace("{table}", table_sql)
            try:
                failing = int(first_row(con.execute(f"SELECT count(*) FROM ({query})"))[0])
            except Exception as exc:
                results.append(CheckResult(check.name, check.severity, "error", message=first_line(exc)))
                continue
            result = CheckResult(check.name, check.severity, "fail" if failing else "pass", failing)
            if failing:
                result.sample = _sample(con, f"SELECT * FROM ({query}) LIMIT {SAMPLE_ROWS}")
            results.append(result)
    return results


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int | str:
    """A count, or DuckDB's one-line reason it could not be made."""
    try:
        return int(first_row(con.execute(sql))[0])
    except Exception as exc:
        return first_line(exc)


def _sample(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    try:
        rel = con.sql(sql)
        cols = rel.columns
        return [{c: _json_safe(v) for c, v in zip(cols, row, strict=True)} for row in rel.fetchall()]
    except Exception:
        return []
