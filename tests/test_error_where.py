"""Errors carry their file, line and check as fields (Where), from the engine to `rat status`'s
typed tables: the workbench reads them and never parses an error's text back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import write

from rat_tui.engine import Engine, Where
from rat_tui.engine.errors import ModelError
from rat_tui.engine.model_parse import parse_header, python_model_info, sql_dependencies


def where_of(engine: Engine, table: str) -> Where | None:
    status = engine.status()
    entry = status.table(table)
    assert entry is not None and entry.error, f"{table} has no error in {status.to_json()}"
    return entry.error_at


def test_parse_errors_name_file_and_line_as_fields() -> None:
    try:
        sql_dependencies("select 1,\n  2 +\nfrom", "models/silver/x.sql")
    except ModelError as exc:
        assert exc.where.file == "models/silver/x.sql"
        assert exc.where.line is not None and exc.where.line >= 2
        assert str(exc).startswith(f"models/silver/x.sql:{exc.where.line}: ")
    else:
        raise AssertionError("a syntax error was accepted")
    try:
        parse_header(Path("models/silver/x.sql"), "/* rat\nmaterialized = \n*/\nselect 1")
    except ModelError as exc:
        assert exc.where == Where("models/silver/x.sql", 2)
    else:
        raise AssertionError("a bad header was accepted")
    try:
        python_model_info("RAT = {}\n\ndef model(ctx):\n    return ctx.table(name)\n", "models/gold/p.py")
    except ModelError as exc:
        assert exc.where == Where("models/gold/p.py", 4)
    else:
        raise AssertionError("a dynamic ctx.table() was accepted")


def test_a_failed_build_points_at_its_line(ws: Path, engine: Callable[[], Engine]) -> None:
    write(ws / "landing" / "t.csv", "id\n1\n")
    write(ws / "models" / "silver" / "bad.sql", "select id,\n  nope + 1 as n\nfrom bronze.t\n")
    write(ws / "models" / "silver" / "unknown.sql", "select 1 as x\nfrom bronze.t\njoin bronze.missing using (id)\n")
    e = engine()
    e.run()
    assert where_of(e, "silver.bad") == Where("models/silver/bad.sql", 2)
    # The text keeps its old shape; the field points at the line naming the table.
    status = e.status().table("silver.unknown")
    assert status is not None and status.error is not None
    assert status.error.startswith("models/silver/unknown.sql: reads unknown table bronze.missing")
    assert status.error_at == Where("models/silver/unknown.sql", 3)
    # The typed field is the faces'; the JSON is as it always was.
    tables = {t["name"]: t for t in e.status().to_json()["tables"]}
    assert "error_at" not in tables["silver.bad"] and tables["silver.bad"]["error"].startswith("models/silver/bad")


def test_a_failed_check_points_at_its_declaration(ws: Path, engine: Callable[[], Engine]) -> None:
    write(ws / "landing" / "u.csv", "id\n1\n1\n")
    write(
        ws / "models" / "silver" / "checked.sql",
        '/* rat\n[checks]\nunique = ["id"]\n*/\nselect id from bronze.u\n',
    )
    write(ws / "models" / "silver" / "custom.sql", "select id from bronze.u\n")
    write(
        ws / "models" / "silver" / "custom.checks.sql",
        "-- name: first\nselect * from silver.custom where false;\n\n-- name: no_ones\nselect * from silver.custom where id = 1;\n",
    )
    e = engine()
    e.run()
    where = where_of(e, "silver.checked")
    assert where is not None and where.file == "models/silver/checked.sql"
    assert where.line == 3 and where.check is not None and where.check.startswith("unique")
    assert where_of(e, "silver.custom") == Where("models/silver/custom.checks.sql", 4, "no_ones")
    # Still known after a restart: it comes from state.sqlite, not from memory.
    assert where_of(engine(), "silver.custom") == Where("models/silver/custom.checks.sql", 4, "no_ones")
