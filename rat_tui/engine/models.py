"""Models: discovery under models/<layer>/, the `/* rat ... */` header, dependencies read from the SQL, the graph.

A model's inputs are the `<layer>.<table>` names its SQL reads; DuckDB's parser lists them
(`json_serialize_sql`), so nothing is declared twice and nothing needs the tables to exist yet.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from rat_tui.engine.checks import Check, parse_checks, parse_checks_file
from rat_tui.engine.errors import ModelError
from rat_tui.engine.model_lint import HEADER_RE, header_warnings, python_warnings
from rat_tui.engine.workspace import LAYERS, MODEL_LAYERS, Workspace

MATERIALIZATIONS = ("table", "view", "incremental")
STRATEGIES = ("append", "merge", "partition")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass
class Model:
    """One model file: `models/silver/orders.sql` builds `silver.orders`."""

    name: str  # layer.table
    path: Path
    sql: str  # the whole file (SQL with its header, or Python source); line numbers match the file's
    settings: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    error: str | None = None  # set when the file cannot be parsed; such a model is reported, not built
    checks: list[Check] = field(default_factory=list)
    checks_text: str = ""  # the `<name>.checks.sql` file, part of the fingerprint
    warnings: list[str] = field(default_factory=list)  # settings that look meant but are not read

    @property
    def is_python(self) -> bool:
        return self.path.suffix == ".py"

    @property
    def strategy(self) -> str:
        return str(self.settings.get("strategy", "append"))

    @property
    def unique_key(self) -> list[str]:
        key = self.settings.get("unique_key", [])
        return [key] if isinstance(key, str) else list(key)

    @property
    def row_key(self) -> list[str]:
        """What identifies a row, for diffs: unique_key, else the first `unique` check's columns."""
        if self.unique_key:
            return self.unique_key
        checks = self.settings.get("checks", {})
        unique = checks.get("unique") if isinstance(checks, dict) else None
        value = unique.get("columns") if isinstance(unique, dict) else unique
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str):
            return [first]
        return [c for c in first if isinstance(c, str)] if isinstance(first, list) else []

    @property
    def partition_by(self) -> str | None:
        value = self.settings.get("partition_by")
        return str(value) if value else None

    @property
    def incremental_input(self) -> str | None:
        """The table whose new rows drive an incremental build (its only input unless named)."""
        named = self.settings.get("incremental_input")
        if named:
            return str(named).lower()
        return self.depends_on[0] if len(self.depends_on) == 1 else None

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def materialized(self) -> str:
        return str(self.settings.get("materialized", "table"))

    def fingerprint(self, upstream: dict[str, str]) -> str:
        """Changes when the model's SQL, settings or any upstream model's fingerprint changes."""
        h = hashlib.sha256()
        h.update(self.sql.encode())
        h.update(self.checks_text.encode())
        h.update(json.dumps(self.settings, sort_keys=True, default=str).encode())
        for dep in sorted(self.depends_on):
            h.update(f"{dep}={upstream.get(dep, '')}".encode())
        return h.hexdigest()[:16]


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
        raise ModelError(
            f"{path}:{line}: invalid rat header: {msg.split(' (at line')[0]}; fix the TOML in the /* rat */ block"
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
        line = f":{line_of(sql, int(pos))}" if pos not in (None, "") and str(pos).isdigit() else ""
        raise ModelError(f"{where}{line}: {message.splitlines()[0]}")
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise ModelError(f"{where}: a model is exactly one SELECT statement, found {len(statements)}")
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
            raise ModelError(
                f"{where}: table {table!r} has no layer; name it bronze.{table}, silver.{table} or gold.{table}"
            )
        else:
            raise ModelError(f"{where}: unknown schema {schema!r} in {schema}.{table}; layers are bronze, silver, gold")
    return tuple(sorted(deps))


def python_model_info(source: str, where: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A Python model's `RAT = {...}` settings and the tables it reads through `ctx.table("...")`.

    Both are read from the source without running it: the settings must be a literal dict and each
    table name a string literal.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ModelError(f"{where}:{exc.lineno}: Python syntax error: {exc.msg}") from None
    settings: dict[str, Any] = {}
    has_model = False
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RAT" for t in node.targets):
            try:
                settings = ast.literal_eval(node.value)
            except ValueError:
                raise ModelError(f"{where}:{node.lineno}: RAT must be a literal dict of settings") from None
            if not isinstance(settings, dict):
                raise ModelError(f"{where}:{node.lineno}: RAT must be a dict of settings")
        if isinstance(node, ast.FunctionDef) and node.name == "model":
            has_model = True
    if not has_model:
        raise ModelError(f"{where}: a Python model defines `def model(ctx)` returning a polars or Arrow table")
    deps: set[str] = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "table":
            arg = call.args[0] if call.args else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise ModelError(
                    f'{where}:{call.lineno}: ctx.table() needs a literal name like ctx.table("silver.orders"), '
                    "so rat can see the dependencies without running the model"
                )
            name = arg.value.strip().lower()
            if name.split(".")[0] not in LAYERS or name.count(".") != 1:
                raise ModelError(f"{where}:{call.lineno}: {arg.value!r} is not a table name like silver.orders")
            deps.add(name)
    return settings, tuple(sorted(deps))


def _validate_settings(model: Model, rel: str) -> None:
    """Incremental settings that make sense together; raise ModelError naming the file."""
    mat = model.materialized
    if mat not in MATERIALIZATIONS:
        raise ModelError(f"{rel}: materialized = {mat!r} is not one of {', '.join(MATERIALIZATIONS)}")
    if mat != "incremental":
        return
    if model.strategy not in STRATEGIES:
        raise ModelError(f"{rel}: strategy = {model.strategy!r} is not one of {', '.join(STRATEGIES)}")
    if model.strategy == "merge" and not model.unique_key:
        raise ModelError(f'{rel}: strategy = "merge" needs unique_key = "<column>"')
    if model.strategy == "partition" and not model.partition_by:
        raise ModelError(f'{rel}: strategy = "partition" needs partition_by = "<column>"')
    source = model.incremental_input
    if source is None:
        raise ModelError(
            f"{rel}: an incremental model reading several tables names the one whose new rows drive it: "
            f'incremental_input = "{model.depends_on[0] if model.depends_on else "bronze.x"}"'
        )
    if source not in model.depends_on:
        raise ModelError(f"{rel}: incremental_input = {source!r} is not a table the model reads")


def discover(ws: Workspace) -> dict[str, Model]:
    """Every model file in models/silver and models/gold; parse problems stay on the model as `error`."""
    models: dict[str, Model] = {}
    for layer in MODEL_LAYERS:
        folder = ws.models / layer
        if not folder.is_dir():
            continue
        paths = sorted([*folder.glob("*.sql"), *folder.glob("*.py")])
        for path in paths:
            if path.name.startswith((".", "_")) or path.name.endswith(".checks.sql"):
                continue
            table = path.stem.lower()
            name = f"{layer}.{table}"
            rel = path.relative_to(ws.root).as_posix()
            if name in models:
                models[name].error = f"{rel}: both a .sql and a .py model build {name}; keep one"
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                models[name] = Model(name, path, "", error=f"{rel}: cannot be read ({exc})")
                continue
            model = Model(name, path, text)
            try:
                if not NAME_RE.match(table):
                    raise ModelError(f"{rel}: {path.stem!r} is not a table name; use letters, digits and _")
                if path.suffix == ".py":
                    model.warnings = python_warnings(rel, text)
                    model.settings, model.depends_on = python_model_info(text, rel)
                else:
                    model.warnings = header_warnings(rel, text)
                    model.settings = parse_header(Path(rel), text)
                    header = HEADER_RE.match(text)
                    if not text[header.end() if header else 0 :].strip():
                        raise ModelError(f"{rel}: the model has no SQL; write one SELECT statement")
                    model.depends_on = sql_dependencies(text, rel)
                if name in model.depends_on:
                    raise ModelError(f"{rel}: the model reads its own table {name}")
                _validate_settings(model, rel)
                model.checks = parse_checks(model.settings, rel)
                checks_file = path.with_name(f"{path.stem}.checks.sql")
                if checks_file.is_file():
                    model.checks_text = checks_file.read_text(encoding="utf-8")
                    model.checks += parse_checks_file(checks_file, checks_file.relative_to(ws.root).as_posix())
            except ModelError as exc:
                model.error = str(exc)
            models[name] = model
    return models


@dataclass
class Graph:
    """Models in dependency order, with errors that stop some of them from being built."""

    models: dict[str, Model]
    order: list[str]
    errors: dict[str, str]  # model -> why it cannot be planned

    def downstream(self, name: str) -> set[str]:
        out: set[str] = set()
        frontier = [name]
        while frontier:
            cur = frontier.pop()
            for m in self.models.values():
                if cur in m.depends_on and m.name not in out:
                    out.add(m.name)
                    frontier.append(m.name)
        return out

    def upstream(self, name: str) -> set[str]:
        out: set[str] = set()
        frontier = [name]
        while frontier:
            cur = frontier.pop()
            model = self.models.get(cur)
            for dep in model.depends_on if model else ():
                if dep in self.models and dep not in out:
                    out.add(dep)
                    frontier.append(dep)
        return out


def plan(ws: Workspace, models: dict[str, Model], bronze_tables: set[str]) -> Graph:
    """Order models by dependency; unknown inputs and cycles become errors on the models involved."""
    errors: dict[str, str] = {m.name: m.error for m in models.values() if m.error}
    for m in models.values():
        if m.name in errors:
            continue
        for dep in m.depends_on:
            layer = dep.split(".")[0]
            if layer == "bronze" and dep not in bronze_tables:
                errors[m.name] = (
                    f"{m.path.relative_to(ws.root).as_posix()}: reads unknown table {dep}; "
                    f"drop files into landing/{dep.split('.', 1)[1]}/ or fix the name"
                )
            elif layer != "bronze" and dep not in models:
                errors[m.name] = (
                    f"{m.path.relative_to(ws.root).as_posix()}: reads unknown table {dep}; "
                    f"there is no models/{layer}/{dep.split('.', 1)[1]}.sql"
                )
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for m in models.values():
        sorter.add(m.name, *[d for d in m.depends_on if d in models])
    try:
        order = list(sorter.static_order())
    except CycleError as exc:
        cycle = list(dict.fromkeys(exc.args[1]))
        text = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            errors[name] = (
                f"{models[name].path.relative_to(ws.root).as_posix()}: dependency cycle {text}; break the cycle"
            )
        rest = {k: v for k, v in models.items() if k not in cycle}
        sub = plan(
            ws,
            {
                k: Model(v.name, v.path, v.sql, v.settings, tuple(d for d in v.depends_on if d not in cycle), v.error)
                for k, v in rest.items()
            },
            bronze_tables,
        )
        order = sub.order + cycle
        errors = {**sub.errors, **errors}
    return Graph(models, order, errors)


def select(graph: Graph, selectors: list[str]) -> set[str]:
    """Models picked by selectors: `name`, `layer.name`, `name+`, `+name`, `+name+`, or a layer."""
    if not selectors:
        return set(graph.models)
    picked: set[str] = set()
    for raw in selectors:
        sel = raw.strip().lower()
        up, down = sel.startswith("+"), sel.endswith("+")
        core = sel.strip("+")
        if core in MODEL_LAYERS and not (up or down):
            picked |= {n for n in graph.models if n.startswith(core + ".")}
            continue
        if core == "bronze":
            raise ModelError("bronze tables are ingested, not built; select silver or gold models")
        if "." in core:
            matches = [core] if core in graph.models else []
        else:
            matches = [n for n in graph.models if n.split(".", 1)[1] == core]
        if not matches:
            raise ModelError(f"selector {raw!r} matches no model; `rat status` lists the models")
        if len(matches) > 1:
            raise ModelError(f"selector {raw!r} is ambiguous ({', '.join(sorted(matches))}); name the layer")
        name = matches[0]
        picked.add(name)
        if down:
            picked |= graph.downstream(name)
        if up:
            picked |= graph.upstream(name)
    return picked
