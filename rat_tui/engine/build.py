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

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.build_incremental import Built, IncrementalBuilder
from rat_tui.engine.checks import CheckResult, run_checks
from rat_tui.engine.clock import now_iso
from rat_tui.engine.errors import ModelError, Where, first_line
from rat_tui.engine.events import BuildPlanned, ModelFinished, ModelStarted, Progress
from rat_tui.engine.models import Graph, Model, line_naming
from rat_tui.engine.planning import Plan
from rat_tui.engine.query import qualified, strip_sql
from rat_tui.engine.records import Fingerprint
from rat_tui.engine.states import BuildState

if TYPE_CHECKING:
    pass


@dataclass
class BuildResult:
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)
    checks: dict[str, list[CheckResult]] = field(default_factory=dict)
    incremental: list[str] = field(default_factory=list)  # built from new input rows only
    rechecked: list[str] = field(default_factory=list)  # only their checks changed: checked, not rebuilt


class ChecksFailed(Exception):
    """Error-severity checks failed on the staged version; nothing was published."""

    def __init__(self, results: list[CheckResult]) -> None:
        self.results = results
        blocking = [r for r in results if r.blocks]
        super().__init__("; ".join(r.describe() for r in blocking))


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


def check_where(model: Model, root: Path, results: list[CheckResult]) -> Where:
    """Where the first blocking check is declared: its line in `<model>.checks.sql`, or the line of
    the model's header (or SQL) that names its kind."""
    failed = next(r for r in results if r.blocks)
    declared = next((c for c in model.checks if c.name == failed.name), None)
    if declared is not None and declared.file:  # model.checks_text is that file, read at discovery
        return Where(declared.file, declared.line or line_naming(model.checks_text, failed.name), failed.name)
    kind = failed.name.split("(", 1)[0]
    return Where(model.path.relative_to(root).as_posix(), line_naming(model.sql, kind), failed.name)


class Builder(IncrementalBuilder):
    """Builds the selected models of a graph in order, through one query session."""

    def input_versions(self, model: Model, graph: Graph) -> dict[str, int]:
        return self.planner.input_versions(model, graph)

    # The run.

    def run(self, graph: Graph, selected: set[str], run_id: str, force: bool = False) -> BuildResult:
        result = BuildResult()
        fingerprints: dict[str, Fingerprint] = {}
        states = self.state.all_model_states()
        blocked: dict[str, str] = {}  # model -> the upstream failure that blocks it
        rechecks_failed: set[str] = set()  # models whose checks alone were re-run, and failed
        queue = tuple(n for n in graph.order if n in selected)
        total, done = len(queue), 0
        if queue:
            self.bus.emit(BuildPlanned(queue))
        for name in graph.order:
            model = graph.models[name]
            fp = fingerprints[name] = model.fingerprint(fingerprints)
            if name not in selected:
                continue
            done += 1
            started = now_iso()
            failing_up = [d for d in model.depends_on if d in result.failed or d in blocked]
            bad_up = failing_up[0] if failing_up else None
            if failing_up and all(d in rechecks_failed for d in failing_up):
                # Only checks failed upstream, on data already published: this model's inputs did
                # not change, so if it is up to date it stays so (it is skipped only if it is not).
                inputs = self.input_versions(model, graph)
                if self.planner.plan(model, fp, inputs, states.get(name), force).action == "skip":
                    bad_up = None
            if name in graph.errors:
                bad = graph.errors[name]
                self._fail(result, run_id, name, started, str(bad), 0.0, attempt=(fp.key, {}), where=bad.where)
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
                self.state.record_model_run(run_id, name, started, BuildState.SKIPPED, error=why)
                self.bus.emit(ModelFinished(name, BuildState.SKIPPED, error=why))
                continue
            inputs = self.input_versions(model, graph)
            plan = self.planner.plan(model, fp, inputs, states.get(name), force)
            if plan.action == "skip":
                result.up_to_date.append(name)
                self.bus.emit(ModelFinished(name, BuildState.UP_TO_DATE))
                continue
            self.bus.emit(Progress("build", done - 1, total, name))
            self.bus.emit(ModelStarted(name))
            t0 = time.perf_counter()
            try:
                built = (
                    self._recheck(model, states[name]) if plan.action == "check" else self._build(model, plan, run_id)
                )
            except ChecksFailed as exc:
                result.checks[name] = exc.results
                self.state.record_checks(run_id, name, exc.results)
                took = time.perf_counter() - t0
                where = check_where(model, self.ws.root, exc.results)
                failed = BuildState.CHECK_FAILED
                mode = "checks" if plan.action == "check" else None
                if mode == "checks":
                    rechecks_failed.add(name)
                self._fail(
                    result, run_id, name, started, str(exc), took, failed, (fp.key, inputs), where=where, mode=mode
                )
                continue
            except Exception as exc:  # any failure is this model's, reported with its file
                rel = model.path.relative_to(self.ws.root).as_posix()
                msg = first_line(exc)
                if isinstance(exc, ModelError) and exc.where.file:
                    where = exc.where
                else:
                    where = Where(rel, error_line(str(exc), model.sql))
                error = msg if msg.startswith(rel) else f"{rel}{f':{where.line}' if where.line else ''}: {msg}"
                took = time.perf_counter() - t0
                self._fail(result, run_id, name, started, error, took, attempt=(fp.key, inputs), where=where)
                continue
            checks, used = built.checks, built.mode
            if checks:
                result.checks[name] = checks
                self.state.record_checks(run_id, name, checks)
            self.state.set_model_state(
                name, fp, inputs, model.materialized, built.view_sql, run_id, built.version, rebuilt=used != "checks"
            )
            rows_in = (
                None
                if used == "checks"
                else self._rows_in(model, graph, plan.new_files if used == "incremental" else None)
            )
            self.state.record_model_run(
                run_id,
                name,
                started,
                "ok",
                built.rows,
                built.version,
                mode=used,
                rows_in=rows_in,
                attempt=(fp.key, inputs),
            )
            (result.rechecked if used == "checks" else result.built).append(name)
            if used == "incremental":
                result.incremental.append(name)
            warnings = tuple(r.describe() for r in checks if r.status != "pass")
            self.bus.emit(
                ModelFinished(
                    name, "ok", built.rows, built.version, time.perf_counter() - t0, warnings=warnings, mode=used
                )
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
        attempt: tuple[str, dict[str, int]] | None = None,
        where: Where | None = None,
        mode: str | None = None,
    ) -> None:
        """Record a failed build with the fingerprint and inputs it tried: the same SQL on the same
        inputs fails again (what `rat status` says), anything else is worth a new build."""
        result.failed[name] = error
        self.state.record_model_run(run_id, name, started, status, error=error, mode=mode, attempt=attempt, where=where)
        self.bus.emit(ModelFinished(name, status, seconds=seconds, error=error, mode=mode))

    # Building one model.

    def _build(self, model: Model, plan: Plan, run_id: str) -> Built:
        try:
            if model.materialized == "view":
                return self._build_view(model)
            if plan.action == "incremental":
                outcome = self._build_incremental(model, plan, run_id)
                if outcome is not None:
                    return outcome
            rows, version, checks = self._publish_checked(
                model, run_id, self._stage_full(model, run_id), "overwrite", [], "build"
            )
            return Built(checks, rows, version)
        finally:
            for f in self._scratch:
                f.unlink(missing_ok=True)
            self._scratch.clear()

    def _recheck(self, model: Model, prior: dict[str, Any]) -> Built:
        """Only the model's checks changed: run them on what is published (the table's current
        version, or the view), and publish nothing. Downstream models stay up to date."""
        checks = run_checks(self.session.con, qualified(model.name), model.checks)
        if any(r.blocks for r in checks):
            raise ChecksFailed(checks)
        version = prior.get("table_version")
        dt = None if model.materialized == "view" else lake.open_table(self.ws.table_path(model.name))
        rows = None if dt is None else sum(lake.file_rows(dt).values())
        return Built(checks, rows, version, prior.get("view_sql"), mode="checks")

    def _build_view(self, model: Model) -> Built:
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
        return Built(checks, view_sql=body)

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
