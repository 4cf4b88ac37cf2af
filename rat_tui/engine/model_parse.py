"""Reading a model file without running it: the `/* rat ... */` header's TOML, the tables a SELECT
reads (DuckDB's parser, `json_serialize_sql`), a Python model's `RAT` settings and `ctx.table()` calls.
Errors name the file and line as fields (ModelError.where) and in their text."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from rat_tui.engine.errors import ModelError
from rat_tui.engine.model_lint import HEADER_RE
from rat_tui.engine.workspace import LAYERS


def parse_header(path: Path, text: str) -> dict[str, Any]:
    """The TOML settings in the file's leading `/* rat ... */` comment (empty if none)."""
    m = HEADER_RE.match(text)
    if not m:
        return {}
    body = m.group("body")
    try:
        settings = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        # tomllib counts lines from the body's start; the body starts on the header's first line.
        header_line = text[: m.start("body")].count("\n") + 1
        msg = str(exc)
        lm = re.search(r"at line (\d+)", msg)
        if lm:
            line = header_line + int(lm.group(1)) - 1
        else:  # "at end of document": something left open; point at the comment's end
            line = text[: m.end("body")].count("\n") + 1
        what = msg.split(" (at line")[0]
        raise ModelError.at(
            path.as_posix(), line, f"invalid rat header: {what}; fix the TOML in the /* rat */ block"
        ) from None
    return settings


def _walk_tables(node: Any, found: set[tuple[str, str]], ctes: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and "table_name" in node:
            found.add((node.get("schema_name", "") or "", node["table_name"]))
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                ctes.add(str(entry.get("key", "")).lower())
        for value in node.values():
            _walk_tables(value, found, ctes)
    elif isinstance(node, list):
        for value in node:
            _walk_tables(value, found, ctes)


def line_of(sql: str, offset: int) -> int:
    return sql.count("\n", 0, max(0, offset)) + 1


def sql_dependencies(sql: str, where: str) -> tuple[str, ...]:
    """The `<layer>.<table>` names a SELECT reads; raise ModelError on a parse error or a bare name."""
    from rat_tui.engine.query import first_row, scratch

    raw = first_row(scratch().execute("SELECT json_serialize_sql(?)", [sql]))[0]
    tree = json.loads(raw)
    if tree.get("error"):
        message = str(tree.get("error_message", "syntax error")).strip()
        pos = tree.get("position")
        line = line_of(sql, int(pos)) if pos not in (None, "") and str(pos).isdigit() else None
        raise ModelError.at(where, line, message.splitlines()[0])
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise ModelError.at(where, None, f"a model is exactly one SELECT statement, found {len(statements)}")
    found: set[tuple[str, str]] = set()
    ctes: set[str] = set()
    _walk_tables(statements[0], found, ctes)
    deps = set()
    for schema, table in found:
        schema_l, table_l = schema.lower(), table.lower()
        if schema_l in LAYERS:
            deps.add(f"{schema_l}.{table_l}")
        elif not schema_l and table_l in ctes:
            continue
        elif not schema_l:
            raise ModelError.at(
                where, None, f"table {table!r} has no layer; name it bronze.{table}, silver.{table} or gold.{table}"
            )
        else:
            raise ModelError.at(
                where, None, f"unknown schema {schema!r} in {schema}.{table}; layers are bronze, silver, gold"
            )
    return tuple(sorted(deps))


def python_model_info(source: str, where: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A Python model's `RAT = {...}` settings and the tables it reads through `ctx.table("...")`.

    Both are read from the source without running it: the settings must be a literal dict and each
    table name a string literal.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ModelError.at(where, exc.lineno, f"Python syntax error: {exc.msg}") from None
    settings: dict[str, Any] = {}
    has_model = False
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RAT" for t in node.targets):
            try:
                settings = ast.literal_eval(node.value)
            except ValueError:
                raise ModelError.at(where, node.lineno, "RAT must be a literal dict of settings") from None
            if not isinstance(settings, dict):
                raise ModelError.at(where, node.lineno, "RAT must be a dict of settings")
        if isinstance(node, ast.FunctionDef) and node.name == "model":
            has_model = True
    if not has_model:
        raise ModelError.at(where, None, "a Python model defines `def model(ctx)` returning a polars or Arrow table")
    deps: set[str] = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "table":
            arg = call.args[0] if call.args else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise ModelError.at(
                    where,
                    call.lineno,
                    'ctx.table() needs a literal name like ctx.table("silver.orders"), '
                    "so rat can see the dependencies without running the model",
                )
            name = arg.value.strip().lower()
            if name.split(".")[0] not in LAYERS or name.count(".") != 1:
                raise ModelError.at(where, call.lineno, f"{arg.value!r} is not a table name like silver.orders")
            deps.add(name)
    return settings, tuple(sorted(deps))


def data_text(source: str, is_python: bool) -> str:
    """A model's source without its settings (read as settings, apart): the SQL after the
    `/* rat */` header, or the Python without its `RAT = {...}` statement."""
    if not is_python:
        header = HEADER_RE.match(source)
        return source[header.end() if header else 0 :]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    settings_lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RAT" for t in node.targets):
            settings_lines |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return "\n".join(line for n, line in enumerate(source.splitlines(), 1) if n not in settings_lines)
