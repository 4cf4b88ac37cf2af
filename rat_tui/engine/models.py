"""Models: discovery under models/<layer>/, the `/* rat ... */` header, dependencies read from the SQL, the graph.

A model's inputs are the `<layer>.<table>` names its SQL reads; DuckDB's parser lists them
(`json_serialize_sql`), so nothing is declared twice and nothing needs the tables to exist yet.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from rat_tui.engine.checks import Check, parse_checks, parse_checks_file
from rat_tui.engine.errors import ModelError
from rat_tui.engine.model_lint import HEADER_RE, header_warnings, python_warnings
from rat_tui.engine.model_parse import data_text, parse_header, python_model_info, sql_dependencies
from rat_tui.engine.records import Fingerprint
from rat_tui.engine.workspace import MODEL_LAYERS, Workspace

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
    error: ModelError | None = None  # set when the file cannot be parsed; such a model is reported, not built
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

    def fired(self, built_at: str | None, now: datetime | None = None) -> datetime | None:
        """With a `schedule`: when it fired since the build at `built_at`, if it has (the
        model is rebuilt then even without new input); else None."""
        at = self.next_firing(built_at)
        return at if at is not None and at <= (now or datetime.now(UTC)) else None

    def next_firing(self, built_at: str | None) -> datetime | None:
        """The schedule's first firing after the build at `built_at` (None: no schedule)."""
        text = self.settings.get("schedule")
        if not text or not built_at:
            return None
        from rat_tui.engine.schedule import parse_schedule

        zone = str(self.settings.get("timezone", "UTC"))
        return parse_schedule(str(text), zone).next_after(datetime.fromisoformat(built_at))

    def fingerprint(self, upstream: dict[str, Fingerprint]) -> Fingerprint:
        """Its data part changes with the model's SQL (or Python), its settings but the checks, and
        any upstream model's data part; its checks part with the checks alone (the header's
        [checks] and `<name>.checks.sql`). A change of checks only re-checks the published table."""
        data = hashlib.sha256(data_text(self.sql, self.is_python).encode())
        settings = {k: v for k, v in self.settings.items() if k != "checks"}
        data.update(json.dumps(settings, sort_keys=True, default=str).encode())
        for dep in sorted(self.depends_on):
            up = upstream.get(dep)
            data.update(f"{dep}={up.data if up else ''}".encode())
        checks = hashlib.sha256(json.dumps(self.settings.get("checks"), sort_keys=True, default=str).encode())
        checks.update(self.checks_text.encode())
        return Fingerprint(data.hexdigest()[:16], checks.hexdigest()[:16])


def next_scheduled(models: dict[str, Model], states: dict[str, dict[str, Any]]) -> datetime | None:
    """The first time a scheduled model falls due (its schedule's next firing after its build)."""
    times = [m.next_firing(states.get(n, {}).get("built_at")) for n, m in models.items() if m.error is None]
    return min((at for at in times if at is not None), default=None)


def _validate_schedule(model: Model, rel: str) -> None:
    from rat_tui.engine.schedule import ScheduleError, parse_schedule

    text, zone = model.settings.get("schedule"), model.settings.get("timezone", "UTC")
    if text is None:
        if "timezone" in model.settings:
            raise ModelError.at(rel, None, "timezone is the time zone of a schedule, and there is no schedule")
        return
    if model.materialized == "view":
        raise ModelError.at(rel, None, "a view is computed when it is read: schedule is for tables")
    if not isinstance(text, str) or not isinstance(zone, str):
        raise ModelError.at(rel, None, 'schedule = "0 6 * * *" (cron) and timezone = "Europe/Berlin" are strings')
    try:
        parse_schedule(text, zone)
    except ScheduleError as exc:
        raise ModelError.at(rel, None, f"schedule: {exc}") from None


def _validate_settings(model: Model, rel: str) -> None:
    """Incremental settings that make sense together; raise ModelError naming the file."""
    mat = model.materialized
    if mat not in MATERIALIZATIONS:
        raise ModelError.at(rel, None, f"materialized = {mat!r} is not one of {', '.join(MATERIALIZATIONS)}")
    _validate_schedule(model, rel)
    if mat != "incremental":
        return
    if model.strategy not in STRATEGIES:
        raise ModelError.at(rel, None, f"strategy = {model.strategy!r} is not one of {', '.join(STRATEGIES)}")
    if model.strategy == "merge" and not model.unique_key:
        raise ModelError.at(rel, None, 'strategy = "merge" needs unique_key = "<column>"')
    if model.strategy == "partition" and not model.partition_by:
        raise ModelError.at(rel, None, 'strategy = "partition" needs partition_by = "<column>"')
    source = model.incremental_input
    if source is None:
        raise ModelError.at(
            rel,
            None,
            f"an incremental model reading several tables names the one whose new rows drive it: "
            f'incremental_input = "{model.depends_on[0] if model.depends_on else "bronze.x"}"',
        )
    if source not in model.depends_on:
        raise ModelError.at(rel, None, f"incremental_input = {source!r} is not a table the model reads")


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
                models[name].error = ModelError.at(rel, None, f"both a .sql and a .py model build {name}; keep one")
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                models[name] = Model(name, path, "", error=ModelError.at(rel, None, f"cannot be read ({exc})"))
                continue
            model = Model(name, path, text)
            try:
                if not NAME_RE.match(table):
                    raise ModelError.at(rel, None, f"{path.stem!r} is not a table name; use letters, digits and _")
                if path.suffix == ".py":
                    model.warnings = python_warnings(rel, text)
                    model.settings, model.depends_on = python_model_info(text, rel)
                else:
                    model.warnings = header_warnings(rel, text)
                    model.settings = parse_header(Path(rel), text)
                    header = HEADER_RE.match(text)
                    if not text[header.end() if header else 0 :].strip():
                        raise ModelError.at(rel, None, "the model has no SQL; write one SELECT statement")
                    model.depends_on = sql_dependencies(text, rel)
                if name in model.depends_on:
                    raise ModelError.at(rel, None, f"the model reads its own table {name}")
                _validate_settings(model, rel)
                model.checks = parse_checks(model.settings, rel)
                checks_file = path.with_name(f"{path.stem}.checks.sql")
                if checks_file.is_file():
                    model.checks_text = checks_file.read_text(encoding="utf-8")
                    model.checks += parse_checks_file(checks_file, checks_file.relative_to(ws.root).as_posix())
            except ModelError as exc:
                model.error = exc
            models[name] = model
    return models


@dataclass
class Graph:
    """Models in dependency order, with errors that stop some of them from being built."""

    models: dict[str, Model]
    order: list[str]
    errors: dict[str, ModelError]  # model -> why it cannot be planned (its text, file and line)

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
    errors: dict[str, ModelError] = {m.name: m.error for m in models.values() if m.error}
    for m in models.values():
        if m.name in errors:
            continue
        rel = m.path.relative_to(ws.root).as_posix()
        for dep in m.depends_on:
            layer, table = dep.split(".", 1)
            if layer == "bronze" and dep not in bronze_tables:
                todo = f"drop files into landing/{table}/ or fix the name"
            elif layer != "bronze" and dep not in models:
                todo = f"there is no models/{layer}/{table}.sql"
            else:
                continue
            # The text is as it always was; the field points the workbench at the line naming the table.
            errors[m.name] = ModelError(f"{rel}: reads unknown table {dep}; {todo}", rel, line_naming(m.sql, dep))
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for m in models.values():
        sorter.add(m.name, *[d for d in m.depends_on if d in models])
    try:
        order = list(sorter.static_order())
    except CycleError as exc:
        cycle = list(dict.fromkeys(exc.args[1]))
        text = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            rel = models[name].path.relative_to(ws.root).as_posix()
            errors[name] = ModelError.at(rel, None, f"dependency cycle {text}; break the cycle")
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


def line_naming(source: str, name: str) -> int | None:
    """The first line of a model's source that names `name` (case-insensitive), if one does."""
    needle = name.lower()
    return next((n for n, text in enumerate(source.splitlines(), 1) if needle in text.lower()), None)


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
