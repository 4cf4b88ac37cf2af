"""Models: discovery under models/<layer>/, the `/* rat ... */` header, dependencies read from the SQL, the graph.

A model's inputs are the `<layer>.<table>` names its SQL reads; DuckDB's parser lists them
(`json_serialize_sql`), so nothing is declared twice and nothing needs the tables to exist yet.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from rat_tui.engine.errors import ModelError
from rat_tui.engine.workspace import LAYERS, MODEL_LAYERS, Workspace

HEADER_RE = re.compile(r"\A\s*/\*\s*rat\b(?P<body>.*?)\*/", re.DOTALL)
MATERIALIZATIONS = ("table", "view", "incremental")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass
class Model:
    """One model file: `models/silver/orders.sql` builds `silver.orders`."""

    name: str  # layer.table
    path: Path
    sql: str  # the whole file, header included, so DuckDB's line numbers match the file's
    settings: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    error: str | None = None  # set when the file cannot be parsed; such a model is reported, not built

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
    mat = settings.get("materialized", "table")
    if mat not in MATERIALIZATIONS:
        line = text[: m.start("body")].count("\n") + 1
        raise ModelError(f"{path}:{line}: materialized = {mat!r} is not one of {', '.join(MATERIALIZATIONS)}")
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
    from rat_tui.engine.query import scratch

    raw = scratch().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0]  # type: ignore[index]
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


def discover(ws: Workspace) -> dict[str, Model]:
    """Every model file in models/silver and models/gold; parse problems stay on the model as `error`."""
    models: dict[str, Model] = {}
    for layer in MODEL_LAYERS:
        folder = ws.models / layer
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.sql")):
            if path.name.startswith(".") or path.name.endswith(".checks.sql"):
                continue
            table = path.stem.lower()
            name = f"{layer}.{table}"
            rel = path.relative_to(ws.root).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                models[name] = Model(name, path, "", error=f"{rel}: cannot be read ({exc})")
                continue
            model = Model(name, path, text)
            try:
                if not NAME_RE.match(table):
                    raise ModelError(f"{rel}: {path.stem!r} is not a table name; use letters, digits and _")
                model.settings = parse_header(Path(rel), text)
                if not text[HEADER_RE.match(text).end() if HEADER_RE.match(text) else 0 :].strip():  # type: ignore[union-attr]
                    raise ModelError(f"{rel}: the model has no SQL; write one SELECT statement")
                model.depends_on = sql_dependencies(text, rel)
                if name in model.depends_on:
                    raise ModelError(f"{rel}: the model reads its own table {name}")
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
