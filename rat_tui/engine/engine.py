"""The Engine: one object the CLI and the workbench both drive. It reports only through events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import LockedError, first_line
from rat_tui.engine.events import EventBus, ModelWarning, RunFinished, RunStarted
from rat_tui.engine.records import ModelSource, QueryRecord, RunDetails, RunRecord, SourceStatus
from rat_tui.engine.state import State, new_run_id
from rat_tui.engine.workspace import Workspace, WriterLock

if TYPE_CHECKING:
    from rat_tui.engine.backup import BackupReport
    from rat_tui.engine.handover import Outcome
    from rat_tui.engine.ingest.quarantine import QuarantinedFile
    from rat_tui.engine.profile import TableProfile
    from rat_tui.engine.query import Session
    from rat_tui.engine.records import Lineage
    from rat_tui.engine.status import WorkspaceStatus
    from rat_tui.engine.versions import Diff


@dataclass
class RunReport:
    """What one `rat run` did."""

    run_id: str
    status: str  # ok | failed | noop
    ingested: list[str] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): rat may not read them
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)
    incremental: list[str] = field(default_factory=list)  # built from new input rows only
    rechecked: list[str] = field(default_factory=list)  # only their checks changed: checked, not rebuilt
    checks: dict[str, list[Any]] = field(default_factory=dict)  # model -> CheckResult list
    pulled: dict[str, int] = field(default_factory=dict)  # source -> records its pull landed
    sources_failed: dict[str, str] = field(default_factory=dict)  # source -> error (never a secret)
    seconds: float = 0.0
    next_scheduled: datetime | None = None  # when a model's `schedule` next has it rebuilt

    def finished(self) -> RunFinished:
        """The run's end as an event (the one place it is built)."""
        return RunFinished(
            self.run_id,
            self.status,
            len(self.ingested),
            len(self.quarantined),
            len(self.built),
            len(self.failed),
            len(self.skipped),
            self.seconds,
        )


class Engine:
    """Everything that touches a workspace's data."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.ws.ensure_dirs()
        self.events = EventBus()
        self._state: State | None = None
        self._lock_held = False
        self._builder: Any = None  # the build in progress, for interrupt()
        self._warned: set[tuple[str, str]] = set()  # model warnings said already (once per process)

    @classmethod
    def open(cls, path: Path | None = None) -> Engine:
        return cls(Workspace.find(path))

    @property
    def state(self) -> State:
        if self._state is None:
            self._state = State(self.ws.state_db, timeout=self.ws.settings.state_timeout)
        return self._state

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None

    def interrupt(self) -> None:
        """Abort the query running in the build in progress (from another thread); the build fails
        and nothing of it is published."""
        builder = self._builder
        if builder is not None:
            builder.interrupt()

    @contextmanager
    def writer(self, role: str = "run") -> Iterator[None]:
        """Hold the workspace's writer lock across several runs (what `rat watch` does)."""
        lock = WriterLock(self.ws, role)
        lock.acquire()
        self._lock_held = True
        try:
            self.state.settle_interrupted()  # what a killed writer left running
            yield
        finally:
            self._lock_held = False
            lock.release()

    @contextmanager
    def _writing(self, role: str = "run") -> Iterator[None]:
        if self._lock_held:
            yield
        else:
            with WriterLock(self.ws, role):
                self.state.settle_interrupted()  # what a killed writer left running
                yield

    def run(
        self,
        selectors: list[str] | None = None,
        full_refresh: bool = False,
        files: set[str] | None = None,
        sources: Sequence[str] | None = None,
        full_pull: bool = False,
    ) -> RunReport:
        """Pull the sources of rat.toml (only `sources`, by name, if given) into landing/, ingest
        what waits there (only `files`, paths under landing/, and what the pulls wrote, if given),
        then build the selected models that are stale. A failing source fails the run but stops
        neither the other sources nor the ingest and builds. `full_pull`: incremental sources
        start again from their `initial` value."""
        from rat_tui.engine.build import Builder
        from rat_tui.engine.ingest import Ingestor
        from rat_tui.engine.models import discover, next_scheduled, plan, select
        from rat_tui.engine.sources.pulling import pull_sources

        started = time.perf_counter()
        with self._writing():
            models = discover(self.ws)
            for model in models.values():
                for warning in model.warnings:
                    if (model.name, warning) not in self._warned:
                        self._warned.add((model.name, warning))
                        self.events.emit(ModelWarning(model.name, warning))
            # Selectors are checked before anything is written: a typo ingests nothing.
            select(plan(self.ws, models, self._bronze_tables()), list(selectors or []))
            run_id = new_run_id()
            command = "run " + " ".join(selectors or [])
            self.state.start_run(run_id, command.strip())
            self.events.emit(RunStarted(run_id))
            report = RunReport(run_id, "running")
            builder = Builder(self.ws, self.state, self.events, self.query_session)
            self._builder = builder
            try:
                pulls = pull_sources(self.ws, self.state, self.events, run_id, sources, full_pull)
                report.pulled, report.sources_failed = pulls.pulled, pulls.failed
                only = None if files is None else files | set(pulls.files)
                ingest = Ingestor(self.ws, self.state, self.events).run(run_id, only=only)
                ingest.merge(pulls.settled)
                report.ingested = [f.rel for f in ingest.ingested]
                report.quarantined = [(f.rel, why) for f, why in ingest.quarantined]
                report.unreadable = [(f.rel, why) for f, why in ingest.unreadable]
                graph = plan(self.ws, models, self._bronze_tables())
                chosen = select(graph, list(selectors or []))
                built = builder.run(graph, chosen, run_id, force=full_refresh)
                report.built, report.failed = built.built, built.failed
                report.skipped, report.up_to_date = built.skipped, built.up_to_date
                report.incremental, report.checks = built.incremental, built.checks
                report.rechecked = built.rechecked
                report.next_scheduled = next_scheduled(models, self.state.all_model_states())
            except BaseException as exc:
                # With the state database locked or its disk full this fails too; the run's error is
                # the first one, and the next writer marks this run failed (settle_interrupted).
                with contextlib.suppress(Exception):
                    self.state.finish_run(run_id, "failed", error=first_line(exc))
                # Whoever showed RunStarted (the workbench's progress bar, "building") sees it end.
                report.status, report.seconds = "failed", time.perf_counter() - started
                self.events.emit(report.finished())
                raise
            finally:
                self._builder = None
                builder.close()
            did_work = report.ingested or report.quarantined or report.built or report.rechecked or report.failed
            # A quarantined file is bad input: the run says so with its exit code, like a failed model.
            failed = report.failed or report.quarantined or report.sources_failed or report.unreadable
            report.status = "failed" if failed else ("ok" if did_work else "noop")
            report.seconds = time.perf_counter() - started
            self.state.finish_run(
                run_id,
                report.status,
                files_ingested=len(report.ingested),
                files_quarantined=len(report.quarantined),
                models_built=len(report.built),
                models_failed=len(report.failed),
                error="; ".join(f"source {n}: {e}" for n, e in report.sources_failed.items()) or None,
            )
            self.events.emit(report.finished())
            return report

    def _bronze_tables(self) -> set[str]:
        return {t for t in lake.list_tables(self.ws) if t.startswith("bronze.")}

    def status(self) -> WorkspaceStatus:
        """Every table and model: layer, rows, version, last build, and its state as the next run
        sees it (ok, stale, failed, ...); the last runs, sources, recent schema changes and the
        files waiting in quarantine."""
        from rat_tui.engine.status import workspace_status

        return workspace_status(self.ws, self.state)

    def sources(self) -> list[SourceStatus]:
        """Each source of rat.toml: its last pull, failures in a row, cursor and next pull."""
        from rat_tui.engine.status import sources_status

        return sources_status(self.ws, self.state)

    def signature(self) -> tuple:
        """Cheap to compute, and different whenever status() could be: table versions (from the
        logs' file names), model files, the newest run. For viewers polling for change."""
        tables = tuple((n, lake.latest_version(self.ws.table_path(n))) for n in lake.list_tables(self.ws))
        models = tuple(
            (str(p), p.stat().st_mtime_ns) for p in sorted(self.ws.models.rglob("*")) if p.suffix in (".sql", ".py")
        )
        runs = self.state.recent_runs(1)
        last = (runs[0].run_id, runs[0].status) if runs else None
        return tables, models, last

    def query_session(self) -> Session:
        """A DuckDB session over the current version of every table, with the view models defined."""
        from rat_tui.engine.query import Session

        return Session(self.ws, self.view_models())

    def view_models(self) -> dict[str, str]:
        """The models materialized as views (no Delta table): name -> the SQL of their last good build."""
        return {
            name: s["view_sql"]
            for name, s in self.state.all_model_states().items()
            if s["materialized"] == "view" and s["view_sql"]
        }

    def profile(self, table: str) -> TableProfile:
        """The table screen's profile of a table (or a view): preview, count, schema, per column."""
        from rat_tui.engine.profile import profile_table

        session = self.query_session()
        try:
            return profile_table(session, table)
        finally:
            session.close()

    def lineage(self, table: str) -> Lineage:
        """What a table is built from and what is built from it, in the graph `lineage_graph` gives."""
        from rat_tui.engine.records import Lineage

        return Lineage.of(table, self.lineage_graph()[1])

    def query_history(self, limit: int = 500) -> list[QueryRecord]:
        """The workbench's queries, newest first."""
        return self.state.query_history(limit)

    def record_query(self, sql: str, rows: int | None, seconds: float, error: str | None) -> None:
        """Keep a query the workbench ran in its history."""
        self.state.record_query(sql, rows, seconds, error)

    def request_run(self, selectors: list[str], full_refresh: bool = False, pull: list[str] | None = None) -> int:
        """Ask the workspace's writer (a `rat watch`, a workbench) for a run, or to pull the
        sources `pull` now; its request id."""
        import os

        kind, args = ("pull", {"sources": pull}) if pull else ("run", None)
        return self.state.add_request(list(selectors), full_refresh, os.getpid(), kind, args)

    def model_source(self, table: str) -> ModelSource:
        """The model file (text, materialization, checks) that builds `table`, or for a bronze
        table its landing folder and files."""
        from rat_tui.engine.profile import model_source

        return model_source(self.ws, self.state, table)

    def quarantined(self) -> list[QuarantinedFile]:
        """The files waiting in quarantine, newest first (path, table, reason, run_id, at, moved_to)."""
        from rat_tui.engine.ingest.quarantine import quarantined_files

        return quarantined_files(self.ws, self.state)

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        """The newest runs first."""
        return self.state.recent_runs(limit)

    def run_details(self, run_id: str) -> RunDetails:
        """One run with its model builds (in order) and check results."""
        return RunDetails(self.state.run(run_id), self.state.model_runs_of(run_id), self.state.check_results(run_id))

    def lineage_graph(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Every table (lake and models, by layer) and the (reads, built) edges between them."""
        from rat_tui.engine.models import discover
        from rat_tui.engine.status import layer_order

        models = discover(self.ws)
        tables = sorted(set(lake.list_tables(self.ws)) | set(models), key=layer_order)
        return tables, sorted({(dep, m.name) for m in models.values() for dep in m.depends_on})

    def resolve_table(self, name: str) -> str:
        """The lake table `name` means: `silver.orders` as it is, `orders` when one layer has it."""
        from rat_tui.engine.versions import resolve_table

        return resolve_table(self.ws, name)

    def history(self, table: str) -> list[dict[str, Any]]:
        """The table's versions, newest first (maintenance ones, like a vacuum's, marked)."""
        return lake.history(self.ws.table_path(self.resolve_table(table)))

    def diff(self, table: str, v1: int | None = None, v2: int | None = None, rows: bool = False) -> Diff:
        """Rows added, removed and changed from v1 to v2 (default: the last data change, so a vacuum
        since is looked through), by the model's unique_key where it declares one."""
        from rat_tui.engine.models import discover
        from rat_tui.engine.versions import diff

        table = self.resolve_table(table)
        path = self.ws.table_path(table)
        if v2 is None:
            v2 = lake.data_version(path) or 0
        if v1 is None:
            v1 = (lake.data_version(path, v2 - 1) or 0) if v2 > 0 else 0  # the data version before v2
        model = discover(self.ws).get(table)
        key = model.row_key if model is not None else []
        session = self.query_session()
        try:
            return diff(session, path, table, v1, v2, key, rows)
        finally:
            session.close()

    def rollback(self, table: str, version: int) -> int:
        """Publish an old version of the table again as a new commit; return the new version.

        A model's next build after a rollback is a full one: its incremental bookkeeping no longer
        matches the table.
        """
        from rat_tui.engine.versions import check_rollback, rollback

        table = self.resolve_table(table)
        path = self.ws.table_path(table)
        with self._writing("rollback"):
            check_rollback(path, table, version)  # a wrong version is the asker's mistake, not a failed run
            run_id = new_run_id()
            self.state.start_run(run_id, f"rollback {table} {version}")
            try:
                new = rollback(path, table, version, run_id)
            except BaseException as exc:
                self.state.finish_run(run_id, "failed", error=first_line(exc) if str(exc).strip() else "interrupted")
                raise
            self.state.finish_run(run_id, "ok")
            return new

    def vacuum(self, retain_hours: int) -> dict[str, int]:
        """Delete data files older versions no longer need (never the current version's): the files
        deleted per table, for the tables that had any (a table with none gets no commit)."""
        from rat_tui.engine.versions import vacuum

        with self._writing("vacuum"):
            deleted = {name: len(vacuum(self.ws.table_path(name), retain_hours)) for name in lake.list_tables(self.ws)}
        return {name: n for name, n in deleted.items() if n}

    def backup(self, dest: Path) -> BackupReport:
        """A consistent copy of the workspace in `dest` (new or empty), also while `rat watch` runs."""
        from rat_tui.engine.backup import take

        return take(self, dest)

    def backup_snapshot(self, state_copy: Path) -> dict[str, int]:
        """The writer's part of a backup: the state database copied, every table's version."""
        from rat_tui.engine.backup import snapshot

        with self._writing("backup"):
            return snapshot(self.ws, self.state.db, state_copy)

    def hand_over(
        self,
        locked: LockedError,
        kind: str,
        args: dict[str, Any] | None = None,
        selectors: list[str] | None = None,
        full_refresh: bool = False,
    ) -> int:
        """Ask the watcher or workbench whose lock refused this run, rollback or vacuum to do it;
        return the request's id (re-raise `locked` when the holder takes no requests)."""
        from rat_tui.engine.handover import ask

        return ask(self, locked, kind, args, selectors, full_refresh)

    def wait_for_request(self, request_id: int, locked: LockedError, timeout: float = 3600.0) -> Outcome:
        """Block until the writer has carried the request out (RatError if it stopped first)."""
        from rat_tui.engine.handover import wait

        return wait(self, request_id, locked, timeout)
