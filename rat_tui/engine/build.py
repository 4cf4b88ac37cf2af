"""Run the model graph: decide what is stale, materialize it, publish each table in one commit.

A model is stale when its fingerprint (SQL, settings, upstream fingerprints) or the versions of the
tables it reads differ from its last good build. A failed model keeps its last good version, and
every model downstream of it is skipped, not failed.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rat_tui.engine import lake
from rat_tui.engine.events import EventBus, ModelFinished, ModelStarted
from rat_tui.engine.models import Graph, Model
from rat_tui.engine.query import Session, first_line, qualified, quote_ident, quote_str, strip_sql
from rat_tui.engine.state import State, now_iso
from rat_tui.engine.workspace import Workspace

# DuckDB types that Delta Lake cannot hold, and what rat stores instead.
_TYPE_FIXES = [
    (re.compile(r"^(UTINYINT|USMALLINT)$"), "INTEGER"),
    (re.compile(r"^UINTEGER$"), "BIGINT"),
    (re.compile(r"^(UBIGINT|HUGEINT|UHUGEINT)$"), "DECIMAL(38,0)"),
    (re.compile(r"^(TIMESTAMP_NS|TIMESTAMP_MS|TIMESTAMP_S)$"), "TIMESTAMP"),
    (re.compile(r"^(TIME|TIME WITH TIME ZONE|INTERVAL|UUID|BIT|BIGNUM|VARINT|\"NULL\"|NULL|ENUM\(.*\))$"), "VARCHAR"),
]
_NESTED_BAD = re.compile(
    r"\b(UTINYINT|USMALLINT|UINTEGER|UBIGINT|HUGEINT|UHUGEINT|TIME|INTERVAL|UUID|ENUM|BIT|\"NULL\")\b"
)


@dataclass
class BuildResult:
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)


def _delta_safe_type(duck_type: str) -> str | None:
    t = duck_type.strip().upper()
    for pattern, target in _TYPE_FIXES:
        if pattern.match(t):
            return target
    if any(ch in t for ch in "([") and _NESTED_BAD.search(t):
        return "VARCHAR"
    return None


class Builder:
    """Builds the selected models of a graph in order, through one query session."""

    def __init__(self, ws: Workspace, state: State, bus: EventBus, open_session: Callable[[], Session]) -> None:
        self.ws = ws
        self.state = state
        self.bus = bus
        self._open_session = open_session
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """Opened on the first build, so a run with nothing stale never starts DuckDB's views."""
        if self._session is None:
            self._session = self._open_session()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def input_versions(self, model: Model, graph: Graph) -> dict[str, int]:
        """The version of every lake table the model reads, looking through views to their tables."""
        out: dict[str, int] = {}
        for dep in model.depends_on:
            upstream = graph.models.get(dep)
            if upstream is not None and upstream.materialized == "view":
                out.update(self.input_versions(upstream, graph))
                continue
            version = lake.latest_version(self.ws.table_path(dep))
            out[dep] = -1 if version is None else version
        return out

    def run(self, graph: Graph, selected: set[str], run_id: str, force: bool = False) -> BuildResult:
        result = BuildResult()
        fingerprints: dict[str, str] = {}
        states = self.state.all_model_states()
        blocked: dict[str, str] = {}  # model -> the upstream failure that blocks it
        for name in graph.order:
            model = graph.models[name]
            fingerprints[name] = model.fingerprint(fingerprints)
            if name not in selected:
                continue
            started = now_iso()
            bad_up = next((d for d in model.depends_on if d in result.failed or d in blocked), None)
            if name in graph.errors:
                self._fail(result, run_id, name, started, graph.errors[name], 0.0)
                continue
            if bad_up is not None:
                why = f"upstream {bad_up} failed" if bad_up in result.failed else blocked[bad_up]
                blocked[name] = why
                result.skipped[name] = why
                self.state.record_model_run(run_id, name, started, "skipped", error=why)
                self.bus.emit(ModelFinished(name, "skipped", error=why))
                continue
            inputs = self.input_versions(model, graph)
            prior = states.get(name)
            exists = model.materialized == "view" or lake.is_table(self.ws.table_path(name))
            if (
                not force
                and prior is not None
                and prior["fingerprint"] == fingerprints[name]
                and prior["inputs"] == inputs
                and prior["materialized"] == model.materialized
                and exists
            ):
                result.up_to_date.append(name)
                self.bus.emit(ModelFinished(name, "up_to_date"))
                continue
            self.bus.emit(ModelStarted(name))
            t0 = time.perf_counter()
            try:
                rows, version, view_sql = self._materialize(model, run_id)
            except Exception as exc:
                rel = model.path.relative_to(self.ws.root).as_posix()
                msg = first_line(exc)
                self._fail(
                    result,
                    run_id,
                    name,
                    started,
                    msg if msg.startswith(rel) else f"{rel}: {msg}",
                    time.perf_counter() - t0,
                )
                continue
            self.state.set_model_state(name, fingerprints[name], inputs, model.materialized, view_sql, run_id)
            self.state.record_model_run(run_id, name, started, "ok", rows, version)
            result.built.append(name)
            self.bus.emit(ModelFinished(name, "ok", rows, version, time.perf_counter() - t0))
        return result

    def _fail(self, result: BuildResult, run_id: str, name: str, started: str, error: str, seconds: float) -> None:
        result.failed[name] = error
        self.state.record_model_run(run_id, name, started, "failed", error=error)
        self.bus.emit(ModelFinished(name, "failed", seconds=seconds, error=error))

    def _materialize(self, model: Model, run_id: str) -> tuple[int | None, int | None, str | None]:
        session = self.session
        body = strip_sql(model.sql)
        if model.materialized == "view":
            session.define_view(model.name, body)
            session.con.execute(f"DESCRIBE {qualified(model.name)}")  # binds it: an unknown column fails now
            return None, None, body
        # Describe first: it checks the SQL and lists the columns to cast into Delta-safe types.
        described = session.con.execute(f"DESCRIBE SELECT * FROM (\n{body})").fetchall()
        select = ", ".join(
            f"CAST({quote_ident(n)} AS {fix}) AS {quote_ident(n)}" if (fix := _delta_safe_type(t)) else quote_ident(n)
            for n, t, *_ in described
        )
        path = self.ws.table_path(model.name)
        staged = lake.stage_path(path, run_id)
        try:
            session.con.execute(
                f"COPY (SELECT {select} FROM (\n{body})) TO {quote_str(str(staged))} "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
            ).fetchone()
            import pyarrow.parquet as pq

            schema = pq.read_schema(staged)
            version = lake.publish(path, [staged], schema, "overwrite", run_id, "build")
        except BaseException:
            staged.unlink(missing_ok=True)
            if not lake.is_table(path) and path.is_dir() and not any(path.iterdir()):
                shutil.rmtree(path, ignore_errors=True)
            raise
        session.refresh(model.name)
        rows = lake.staged_rows([staged])
        return rows, version, None
