"""Run the model graph: decide what is stale, build it, audit it, then publish it in one commit.

Write-audit-publish: a model's new data is staged as Parquet inside its table folder (invisible to
readers), its checks run on the version it would publish, and only if no error-severity check
fails is it committed. A failed build or check keeps the last good version, and every model
downstream of it is skipped, not failed.

A model is stale when its fingerprint (SQL, settings, checks, upstream fingerprints) or the
versions of the tables it reads differ from its last good build. An incremental model whose only
change is new rows appended to its `incremental_input` builds from those rows alone:
  append     the new rows' output is added to the table;
  merge      it replaces the table's rows with the same `unique_key` and adds the rest;
  partition  the partitions it touches (and, with `unique_key`, the partitions the touched keys
             had before) are recomputed over the whole input and replaced.
Anything else (a changed model, a changed dimension table, a rewritten input) is a full rebuild,
so an incremental table always equals a full rebuild of it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.checks import CheckResult, run_checks
from rat_tui.engine.errors import first_line
from rat_tui.engine.events import BuildPlanned, EventBus, ModelFinished, ModelStarted, Progress
from rat_tui.engine.models import Graph, Model
from rat_tui.engine.query import KeyFilter, Session, first_row, qualified, quote_ident, quote_str, strip_sql
from rat_tui.engine.state import State, now_iso
from rat_tui.engine.workspace import Workspace

if TYPE_CHECKING:
    import polars as pl

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
_COPY_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"
_ROW_GROUPS_PER_FILE = 8  # about a million rows per data file


@dataclass
class BuildResult:
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)
    checks: dict[str, list[CheckResult]] = field(default_factory=dict)
    incremental: list[str] = field(default_factory=list)  # built from new input rows only


class ChecksFailed(Exception):
    """Error-severity checks failed on the staged version; nothing was published."""

    def __init__(self, results: list[CheckResult]) -> None:
        self.results = results
        blocking = [r for r in results if r.blocks]
        super().__init__("; ".join(r.describe() for r in blocking))


def _in_list(column: str, values: list[Any], limit: int = 10_000) -> str | None:
    """`column IN (...)` for a short list of plain values: DuckDB pushes it through a GROUP BY on that
    column down to the scan (and the Parquet statistics), which a semi-join does not get."""
    import datetime as dt

    literals = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            literals.append("true" if v else "false")
        elif isinstance(v, (int, float)):
            literals.append(repr(v))
        elif isinstance(v, str):
            literals.append(quote_str(v))
        elif isinstance(v, dt.datetime) and v.tzinfo is None:
            literals.append(f"TIMESTAMP {quote_str(v.isoformat(sep=' '))}")
        elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            literals.append(f"DATE {quote_str(v.isoformat())}")
        else:
            return None
    if len(literals) > limit:
        return None
    parts = [f"{column} IN ({', '.join(literals)})"] if literals else []
    if None in values:
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _delta_safe_type(duck_type: str) -> str | None:
    t = duck_type.strip().upper()
    for pattern, target in _TYPE_FIXES:
        if pattern.match(t):
            return target
    if any(ch in t for ch in "([") and _NESTED_BAD.search(t):
        return "VARCHAR"
    return None


@dataclass
class _Plan:
    """How one model is built this run."""

    action: str  # skip | full | incremental
    new_files: list[str] = field(default_factory=list)  # the incremental input's appended files
    prior_input_version: int | None = None


class ModelContext:
    """What a Python model's `model(ctx)` receives: `ctx.table("silver.orders")` as a polars LazyFrame."""

    def __init__(self, builder: Builder, model: Model, incremental: bool) -> None:
        self._builder = builder
        self._model = model
        self.is_incremental = incremental
        self.name = model.name

    def table(self, name: str) -> pl.LazyFrame:
        """The table's rows as this build sees them (only the new rows of the incremental input)."""
        import polars as pl

        name = name.strip().lower()
        if name not in self._model.depends_on:
            raise ValueError(f"{name} is not a table this model reads")
        session = self._builder.session
        if name not in session.sources:
            raise ValueError(f"{name} is a view, not a table; a Python model reads tables")
        source = session.sources[name]
        schema = dict(pl.DataFrame(source.schema.empty_table()).schema)
        if not source.files:
            return pl.DataFrame(schema=schema).lazy()
        frame = pl.scan_parquet(source.files, schema=schema, missing_columns="insert")
        if source.keys is not None:
            keys = pl.from_arrow(session.con.table(source.keys.relation).to_arrow_table())
            frame = frame.join(keys.lazy(), on=list(source.keys.columns), how="semi")  # type: ignore[union-attr]
        return frame


def error_line(message: str, source: str) -> int | None:
    """The model file's line a DuckDB error points at ("LINE 3: <the line's text>").

    DuckDB numbers the lines of the statement it ran, which wraps the model's SQL; the line's text
    is matched back to the file instead.
    """
    m = re.search(r"^LINE \d+: ?(.*)$", message, re.MULTILINE)
    if not m or not m.group(1).strip():
        return None
    snippet = m.group(1).strip().removeprefix("...").removesuffix("...").strip()
    for number, text in enumerate(source.splitlines(), 1):
        if snippet and snippet in text:
            return number
    return None


class Builder:
    """Builds the selected models of a graph in order, through one query session."""

    def __init__(self, ws: Workspace, state: State, bus: EventBus, open_session: Callable[[], Session]) -> None:
        self.ws = ws
        self.state = state
        self.bus = bus
        self._open_session = open_session
        self._session: Session | None = None
        self._scratch: list[Path] = []  # Python models' results, deleted after each build

    @property
    def session(self) -> Session:
        """Opened on the first build, so a run with nothing stale never starts DuckDB's views."""
        if self._session is None:
            self._session = self._open_session()
        return self._session

    def interrupt(self) -> None:
        session = self._session
        if session is not None:
            session.con.interrupt()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def input_versions(self, model: Model, graph: Graph) -> dict[str, int]:
        """The data version of every lake table the model reads (a vacuum's commits do not count),
        looking through views to their tables."""
        out: dict[str, int] = {}
        for dep in model.depends_on:
            upstream = graph.models.get(dep)
            if upstream is not None and upstream.materialized == "view":
                out.update(self.input_versions(upstream, graph))
                continue
            version = lake.data_version(self.ws.table_path(dep))
            out[dep] = -1 if version is None else version
        return out

    # Deciding what to do.

    def _plan(self, model: Model, fingerprint: str, inputs: dict[str, int], prior: dict | None, force: bool) -> _Plan:
        table_version = lake.data_version(self.ws.table_path(model.name))  # a vacuum of it is no change
        exists = model.materialized == "view" or table_version is not None
        same_model = (
            prior is not None
            and prior["fingerprint"] == fingerprint
            and prior["materialized"] == model.materialized
            and exists
        )
        if force or not same_model:
            return _Plan("full")
        assert prior is not None
        if prior["inputs"] == inputs:
            return _Plan("skip")
        if model.materialized != "incremental" or prior.get("table_version") != table_version:
            return _Plan("full")  # not incremental, or the table changed outside a build (a rollback)
        source = model.incremental_input
        assert source is not None
        others_same = all(prior["inputs"].get(t) == v for t, v in inputs.items() if t != source)
        before = prior["inputs"].get(source)
        if not others_same or before is None or before < 0:
            return _Plan("full")
        appended = self._appended_files(source, before)
        if appended is None:
            return _Plan("full")
        return _Plan("incremental", appended, before)

    def _appended_files(self, table: str, since: int) -> list[str] | None:
        """Files added to `table` after version `since`, or None if anything but appends happened."""
        path = self.ws.table_path(table)
        try:
            old = set(lake.files_at(path, since))
        except Exception:
            return None  # that version is gone (vacuumed): rebuild in full
        current = list(lake.open_table(path).file_uris())  # type: ignore[union-attr]
        if not old <= set(current):
            return None
        return [f for f in current if f not in old]

    # The run.

    def run(self, graph: Graph, selected: set[str], run_id: str, force: bool = False) -> BuildResult:
        result = BuildResult()
        fingerprints: dict[str, str] = {}
        states = self.state.all_model_states()
        blocked: dict[str, str] = {}  # model -> the upstream failure that blocks it
        queue = tuple(n for n in graph.order if n in selected)
        total, done = len(queue), 0
        if queue:
            self.bus.emit(BuildPlanned(queue))
        for name in graph.order:
            model = graph.models[name]
            fingerprints[name] = model.fingerprint(fingerprints)
            if name not in selected:
                continue
            done += 1
            started = now_iso()
            bad_up = next((d for d in model.depends_on if d in result.failed or d in blocked), None)
            if name in graph.errors:
                self._fail(result, run_id, name, started, graph.errors[name], 0.0)
                continue
            if bad_up is not None:
                if bad_up in blocked:
                    why = blocked[bad_up]
                elif bad_up in result.checks and any(r.blocks for r in result.checks[bad_up]):
                    why = f"upstream {bad_up} failed its checks"
                else:
                    why = f"upstream {bad_up} failed"
                blocked[name] = why
                result.skipped[name] = why
                self.state.record_model_run(run_id, name, started, "skipped", error=why)
                self.bus.emit(ModelFinished(name, "skipped", error=why))
                continue
            inputs = self.input_versions(model, graph)
            plan = self._plan(model, fingerprints[name], inputs, states.get(name), force)
            if plan.action == "skip":
                result.up_to_date.append(name)
                self.bus.emit(ModelFinished(name, "up_to_date"))
                continue
            self.bus.emit(Progress("build", done - 1, total, name))
            self.bus.emit(ModelStarted(name))
            t0 = time.perf_counter()
            try:
                rows, version, view_sql, checks, used = self._build(model, plan, run_id)
            except ChecksFailed as exc:
                result.checks[name] = exc.results
                self.state.record_checks(run_id, name, exc.results)
                self._fail(result, run_id, name, started, str(exc), time.perf_counter() - t0, status="check_failed")
                continue
            except Exception as exc:  # any failure is this model's, reported with its file
                rel = model.path.relative_to(self.ws.root).as_posix()
                msg = first_line(exc)
                line = error_line(str(exc), model.sql)
                error = msg if msg.startswith(rel) else f"{rel}{f':{line}' if line else ''}: {msg}"
                self._fail(result, run_id, name, started, error, time.perf_counter() - t0)
                continue
            if checks:
                result.checks[name] = checks
                self.state.record_checks(run_id, name, checks)
            self.state.set_model_state(name, fingerprints[name], inputs, model.materialized, view_sql, run_id, version)
            rows_in = self._rows_in(model, graph, plan.new_files if used == "incremental" else None)
            self.state.record_model_run(run_id, name, started, "ok", rows, version, mode=used, rows_in=rows_in)
            result.built.append(name)
            if used == "incremental":
                result.incremental.append(name)
            warnings = tuple(r.describe() for r in checks if r.status != "pass")
            self.bus.emit(
                ModelFinished(name, "ok", rows, version, time.perf_counter() - t0, warnings=warnings, mode=used)
            )
        return result

    def _rows_in(self, model: Model, graph: Graph, new_files: list[str] | None) -> int | None:
        """Rows the build read: its inputs' rows, or only the new rows of an incremental build
        (from the Delta log's statistics, no scan)."""
        total = 0
        for dep in model.depends_on:
            dt = lake.open_table(self.ws.table_path(dep))
            if dt is None:
                return None  # a view: its rows are not stored anywhere
            per_file = lake.file_rows(dt)
            if new_files is not None and dep == model.incremental_input:
                wanted = {lake.relative(self.ws.table_path(dep), f) for f in new_files}
                total += sum(n for f, n in per_file.items() if f in wanted)
            else:
                total += sum(per_file.values())
        return total

    def _fail(
        self,
        result: BuildResult,
        run_id: str,
        name: str,
        started: str,
        error: str,
        seconds: float,
        status: str = "failed",
    ) -> None:
        result.failed[name] = error
        self.state.record_model_run(run_id, name, started, status, error=error)
        self.bus.emit(ModelFinished(name, status, seconds=seconds, error=error))

    # Building one model.

    def _build(
        self, model: Model, plan: _Plan, run_id: str
    ) -> tuple[int | None, int | None, str | None, list[CheckResult], str]:
        try:
            if model.materialized == "view":
                return (*self._build_view(model), "full")
            if plan.action == "incremental":
                outcome = self._build_incremental(model, plan, run_id)
                if outcome is not None:
                    return (*outcome, "incremental")
            rows, version, checks = self._publish_checked(
                model, run_id, self._stage_full(model, run_id), "overwrite", [], "build"
            )
            return rows, version, None, checks, "full"
        finally:
            for f in self._scratch:
                f.unlink(missing_ok=True)
            self._scratch.clear()

    def _build_view(self, model: Model) -> tuple[None, None, str, list[CheckResult]]:
        if model.is_python:
            raise ValueError('a Python model cannot be materialized = "view"; use "table" or "incremental"')
        session = self.session
        body = strip_sql(model.sql)
        previous = (self.state.model_state(model.name) or {}).get("view_sql")
        session.define_view(model.name, body)
        try:
            session.con.execute(f"DESCRIBE {qualified(model.name)}")  # binds it: an unknown column fails now
            checks = run_checks(session.con, qualified(model.name), model.checks)
            if any(r.blocks for r in checks):
                raise ChecksFailed(checks)
        except BaseException:
            if previous:
                session.define_view(model.name, previous)
            else:
                session.con.execute(f"DROP VIEW IF EXISTS {qualified(model.name)}")
            raise
        return None, None, body, checks

    def _stage_full(self, model: Model, run_id: str) -> list[Path]:
        return self._stage(model, run_id, self._model_sql(model, incremental=False))

    def _publish_checked(
        self, model: Model, run_id: str, staged: list[Path], mode: str, removes: list[str], operation: str
    ) -> tuple[int, int, list[CheckResult]]:
        """Audit the version the staged files would make, then publish it; ChecksFailed publishes nothing."""
        import pyarrow.parquet as pq

        path = self.ws.table_path(model.name)
        try:
            staged_schema = pq.read_schema(staged[0])
            if mode == "overwrite":
                version_files = [str(f) for f in staged]
            else:
                dropped = set(removes)
                current = list(lake.open_table(path).file_uris())  # type: ignore[union-attr]
                version_files = [f for f in current if lake.relative(path, f) not in dropped] + [str(f) for f in staged]
            checks = self._audit(model, version_files, staged_schema) if model.checks else []
            if any(r.blocks for r in checks):
                raise ChecksFailed(checks)
            schema = staged_schema if mode == "overwrite" else lake.arrow_schema(lake.open_table(path))  # type: ignore[arg-type]
            version = lake.publish(path, staged, schema, mode, run_id, operation, removes)
        except BaseException:
            for f in staged:
                f.unlink(missing_ok=True)
            raise
        self.session.refresh(model.name)
        return lake.staged_rows(staged), version, checks

    def _audit(self, model: Model, files: list[str], schema: Any) -> list[CheckResult]:
        """Run the model's checks with its name pointing at the new, unpublished version."""
        session = self.session
        existed = model.name in session.sources
        session.point(model.name, files, schema)
        try:
            return run_checks(session.con, qualified(model.name), model.checks)
        finally:
            if existed:
                session.refresh(model.name)
            else:
                session.con.execute(f"DROP VIEW IF EXISTS {qualified(model.name)}")
                session.sources.pop(model.name, None)

    # Running a model's SQL or Python into a Parquet file.

    @contextmanager
    def _input(self, name: str, files: list[str], keys: KeyFilter | None = None) -> Iterator[None]:
        """Let `name` read only `files` (and rows matching `keys`) while a model runs."""
        session = self.session
        schema = session.sources[name].schema
        session.point(name, files, schema, keys)
        try:
            yield
        finally:
            session.refresh(name)

    def _model_sql(self, model: Model, incremental: bool) -> str:
        """A SELECT of the model's rows: its SQL, or a Python model's result written to a scratch file."""
        if not model.is_python:
            return strip_sql(model.sql)
        raw = self.ws.tmp / f"py-{uuid.uuid4().hex[:12]}.parquet"
        self._scratch.append(raw)
        self._run_python(model, raw, incremental)
        return f"SELECT * FROM read_parquet({quote_str(str(raw))})"

    def _select(self, body: str, where: str | None) -> str:
        """The rows of `body` (matching `where`) with the columns cast to types Delta can hold."""
        # Describe first: it checks the SQL and lists the columns to cast into Delta-safe types.
        described = self.session.con.execute(f"DESCRIBE SELECT * FROM (\n{body})").fetchall()
        select = ", ".join(
            f"CAST({quote_ident(n)} AS {fix}) AS {quote_ident(n)}" if (fix := _delta_safe_type(t)) else quote_ident(n)
            for n, t, *_ in described
        )
        filtered = f" WHERE {where}" if where else ""
        return f"SELECT {select} FROM (\n{body}) AS _m{filtered}"

    def _copy(self, body: str, out: Path, where: str | None = None) -> None:
        """COPY the rows of `body` into one scratch Parquet file."""
        self.session.con.execute(f"COPY ({self._select(body, where)}) TO {quote_str(str(out))} ({_COPY_OPTIONS})")

    def _stage(self, model: Model, run_id: str, body: str, where: str | None = None) -> list[Path]:
        """COPY the rows of `body` into new data files in the model's table folder (invisible to
        readers until published). Files of about a million rows each: a later merge or partition
        replacement rewrites only the files it touches."""
        path = self.ws.table_path(model.name)
        folder = path / f"_staging-{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True, exist_ok=True)
        staged: list[Path] = []
        try:
            self.session.con.execute(
                f"COPY ({self._select(body, where)}) TO {quote_str(str(folder))} "
                f"({_COPY_OPTIONS}, ROW_GROUPS_PER_FILE {_ROW_GROUPS_PER_FILE})"
            )
            for part in sorted(folder.glob("*.parquet")):
                target = lake.stage_path(path, run_id)
                part.replace(target)
                staged.append(target)
        except BaseException:
            for f in staged:
                f.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return staged

    def _run_python(self, model: Model, out: Path, incremental: bool) -> None:
        import polars as pl
        import pyarrow as pa

        from rat_tui.engine.ingest import delta_dtype

        module_name = f"rat_model_{model.layer}_{model.table}_{uuid.uuid4().hex[:6]}"
        spec = importlib.util.spec_from_file_location(module_name, model.path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
            result = module.model(ModelContext(self, model, incremental))
        finally:
            sys.modules.pop(module_name, None)
        if isinstance(result, pl.DataFrame):
            result = result.lazy()
        elif isinstance(result, (pa.Table, pa.RecordBatch)):
            result = pl.from_arrow(result).lazy()  # type: ignore[union-attr]
        if not isinstance(result, pl.LazyFrame):
            raise TypeError(
                f"model() returned {type(result).__name__}; return a polars LazyFrame or DataFrame, or an Arrow table"
            )
        schema = result.collect_schema()
        casts = [pl.col(n).cast(delta_dtype(t)) for n, t in schema.items() if delta_dtype(t) != t]
        if casts:
            result = result.with_columns(casts)
        result.sink_parquet(out, compression="zstd")

    # Incremental strategies.

    def _build_incremental(
        self, model: Model, plan: _Plan, run_id: str
    ) -> tuple[int, int, None, list[CheckResult]] | None:
        """Build from the incremental input's new rows; None when only a full rebuild is right."""
        import pyarrow.parquet as pq

        source = model.incremental_input
        assert source is not None
        dt = lake.open_table(self.ws.table_path(model.name))
        assert dt is not None
        table_schema = lake.arrow_schema(dt)
        staged: list[Path] = []
        try:
            if model.strategy == "partition":
                staged, removes = self._stage_partitions(model, plan, run_id)
            else:
                with self._input(source, plan.new_files):
                    staged = self._stage(model, run_id, self._model_sql(model, incremental=True))
                removes = []
            if not lake.same_columns(pq.read_schema(staged[0]), table_schema):
                for f in staged:
                    f.unlink(missing_ok=True)
                return None  # the output's columns changed: only a full rebuild is right
            if model.strategy == "merge":
                staged, removes = self._merge_into(model, run_id, staged)
            operation = f"build ({model.strategy})"
            rows, version, checks = self._publish_checked(model, run_id, staged, "append", removes, operation)
            return rows, version, None, checks
        except BaseException:
            for f in staged:
                f.unlink(missing_ok=True)
            raise
        finally:
            for name in ("__rat_keys", "__rat_parts"):
                self.session.con.execute(f"DROP TABLE IF EXISTS {name}")

    def _files_holding(self, model: Model, alias: str, condition: str) -> list[str]:
        """The model table's current data files that hold a row matching `condition` (over `alias`)."""
        files = lake.open_table(self.ws.table_path(model.name)).file_uris()  # type: ignore[union-attr]
        listing = ", ".join(quote_str(f) for f in files)
        rows = self.session.con.execute(
            f"SELECT DISTINCT filename FROM read_parquet([{listing}], filename = true, union_by_name = true) AS {alias} "
            f"WHERE {condition}"
        ).fetchall()
        return [r[0] for r in rows]

    def _merge_into(self, model: Model, run_id: str, staged: list[Path]) -> tuple[list[Path], list[str]]:
        """The files of the merged version: the new rows plus the untouched rows of the files that
        hold their keys; and those files, to remove in the same commit."""
        con = self.session.con
        keys = ", ".join(quote_ident(k) for k in model.unique_key)
        new = "read_parquet([" + ", ".join(quote_str(str(f)) for f in staged) + "])"
        dupe = first_row(con.execute(f"SELECT {keys} FROM {new} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"))
        if dupe is not None:
            raise ValueError(
                f"the new rows hold unique_key {dict(zip(model.unique_key, dupe, strict=True))} more than once; "
                "a merge model must give one row per key"
            )
        match = " AND ".join(f"_n.{quote_ident(k)} = _t.{quote_ident(k)}" for k in model.unique_key)
        touched = self._files_holding(model, "_t", f"EXISTS (SELECT 1 FROM {new} AS _n WHERE {match})")
        if not touched:
            return staged, []
        keep = f"NOT EXISTS (SELECT 1 FROM {new} AS _n WHERE {match})"
        return self._rewrite(model, run_id, staged, touched, keep), [
            lake.relative(self.ws.table_path(model.name), f) for f in touched
        ]

    def _rewrite(self, model: Model, run_id: str, staged: list[Path], touched: list[str], keep: str) -> list[Path]:
        """New files holding the rows of `touched` files that satisfy `keep`, plus the staged rows
        (whose own files are then deleted)."""
        old = ", ".join(quote_str(f) for f in touched)
        new = ", ".join(quote_str(str(f)) for f in staged)
        body = (
            f"SELECT * FROM read_parquet([{old}], union_by_name = true) AS _t WHERE {keep} "
            f"UNION ALL BY NAME SELECT * FROM read_parquet([{new}])"
        )
        try:
            return self._stage(model, run_id, body)
        finally:
            for f in staged:
                f.unlink(missing_ok=True)

    def _stage_partitions(self, model: Model, plan: _Plan, run_id: str) -> tuple[list[Path], list[str]]:
        """Recompute the touched partitions into staged files; return them and the files they replace."""
        con = self.session.con
        source = model.incremental_input
        part = model.partition_by
        assert source is not None and part is not None
        partitions: set[Any] = set()
        partitions |= self._partitions_of(model, source, plan.new_files, None)
        if model.unique_key:
            # A key seen again may have moved: recompute where its rows were and where they are now.
            cols = ", ".join(quote_ident(k) for k in model.unique_key)
            listing = ", ".join(quote_str(f) for f in plan.new_files)
            con.execute(
                f"CREATE OR REPLACE TABLE __rat_keys AS SELECT DISTINCT {cols} FROM read_parquet([{listing}], union_by_name = true)"
            )
            keys = KeyFilter(tuple(model.unique_key), "__rat_keys")
            before = lake.files_at(self.ws.table_path(source), plan.prior_input_version)  # type: ignore[arg-type]
            schema = self.session.sources[source].schema
            seen_before = self.session.files_sql(before, schema, "__rat_before_empty")
            if before and first_row(con.execute(f"SELECT 1 FROM ({seen_before}) AS _r WHERE {keys.sql('_r')} LIMIT 1")):
                # Only a key seen before can have moved; new keys alone touch only the partitions above.
                partitions |= self._partitions_of(model, source, before, keys)
                partitions |= self._partitions_of(model, source, self.session.sources[source].files, keys)
        import pyarrow as pa

        values = list(partitions)
        con.register(
            "__rat_parts_arrow",
            pa.table({"v": pa.array(values)}) if values else pa.table({"v": pa.array([], pa.null())}),
        )
        con.execute("CREATE OR REPLACE TABLE __rat_parts AS SELECT v FROM __rat_parts_arrow")
        con.unregister("__rat_parts_arrow")
        in_parts = _in_list(f"_m.{quote_ident(part)}", values) or (
            f"EXISTS (SELECT 1 FROM __rat_parts AS _p WHERE _p.v IS NOT DISTINCT FROM _m.{quote_ident(part)})"
        )
        staged = self._stage(model, run_id, self._model_sql(model, incremental=False), where=in_parts)
        touched = self._files_holding(model, "_m", in_parts)
        if not touched:
            return staged, []
        keep = f"NOT EXISTS (SELECT 1 FROM __rat_parts AS _p WHERE _p.v IS NOT DISTINCT FROM _t.{quote_ident(part)})"
        return self._rewrite(model, run_id, staged, touched, keep), [
            lake.relative(self.ws.table_path(model.name), f) for f in touched
        ]

    def _partitions_of(self, model: Model, source: str, files: list[str], keys: KeyFilter | None) -> set[Any]:
        """The partition values the model outputs when `source` holds only `files` (matching `keys`)."""
        col = quote_ident(model.partition_by or "")
        with self._input(source, files, keys):
            body = self._model_sql(model, incremental=True)
            rows = self.session.con.execute(f"SELECT DISTINCT {col} FROM ({self._select(body, None)})").fetchall()
        return {r[0] for r in rows}
