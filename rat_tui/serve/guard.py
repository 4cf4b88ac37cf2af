"""What `rat serve` runs: a read, and nothing else.

Two fences. The statement itself: exactly one SELECT (WITH, VALUES, DESCRIBE, SHOW and SUMMARIZE
parse as one) or EXPLAIN; DDL, DML, COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, CALL are refused
before anything runs. And the connection (engine.live.lock_down): no file outside the lake can be
read, no extension loaded, no setting changed, so `read_csv('/etc/passwd')` inside a SELECT is
refused by DuckDB itself.
"""

from __future__ import annotations

from rat_tui.engine.query import scratch

READS = ("SELECT", "EXPLAIN")


class Refused(Exception):
    """Not a read: answered 403."""


class BadQuery(Exception):
    """A query DuckDB cannot parse or run: answered 400 with its message."""


def check_read(sql: str) -> None:
    """Raise Refused unless `sql` is one read statement, BadQuery when it does not parse."""
    try:
        statements = scratch().extract_statements(sql)
    except Exception as exc:  # duckdb.ParserException
        from rat_tui.engine.query import query_error_text

        raise BadQuery(query_error_text(exc)) from None
    if not statements:
        raise BadQuery('no statement: the SQL is empty or only comments; try "select 42"')
    if len(statements) > 1:
        raise Refused(f"one statement per request, not {len(statements)}: send each query on its own")
    kind = statements[0].type.name
    if kind not in READS:
        raise Refused(f"rat serve is read-only: a {kind} statement is refused; send a SELECT")


def is_permission_error(exc: BaseException) -> bool:
    """DuckDB refused a file or a setting the locked-down connection does not allow."""
    return type(exc).__name__ == "PermissionException" or str(exc).startswith("Permission Error")
