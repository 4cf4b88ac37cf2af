"""The Python API: a workspace's lake from a notebook, a data app or a script.

    import rat_tui
    lake = rat_tui.open()                      # the nearest workspace upward, as `rat` finds it
    lake.sql("select * from gold.daily_revenue").pl()
    lake.table("silver.orders", version=3)     # a polars LazyFrame, at a version
    lake.tables(); lake.history("gold.daily_revenue"); lake.status()
    lake.run(); lake.pull("tickets")           # handed to the running writer when there is one

A face like the CLI: it calls the engine's façade and nothing under it. Reads never take the
writer's lock; each query sees every table at one whole committed version while `rat watch` goes
on committing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine import Engine, RatError, Version, Workspace
from rat_tui.engine.live import LiveSession
from rat_tui.engine.versions import check_readable_version, view_named

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from rat_tui.engine import RunReport, WorkspaceStatus
    from rat_tui.engine.versions import Diff

__all__ = ["Lake", "RunResult", "Table", "Version"]


@dataclass(frozen=True)
class Table:
    """A table or view of the lake as a reader sees it now."""

    name: str  # layer.table
    layer: str  # bronze | silver | gold
    kind: str  # table (a Delta table) | view (a model materialized as a view: no versions)
    rows: int | None  # from the Delta log's statistics (no scan); None for a view
    version: int | None  # the current Delta version; None for a view
    columns: tuple[tuple[str, str], ...]  # (name, type as DuckDB's SQL names it)
    updated_at: str | None = None  # the current version's commit time (UTC, ISO 8601)
    path: Path | None = None  # the Delta table's folder, for other Delta readers

    def __repr__(self) -> str:
        what = f"v{self.version}, {self.rows:,} rows" if self.kind == "table" else "view"
        return f"<Table {self.name} ({what}, {len(self.columns)} columns)>"


@dataclass(frozen=True)
class RunResult:
    """How a `lake.run()` or `lake.pull()` ended, done here or by the running writer."""

    status: str  # ok | noop | failed
    run_id: str | None
    handed_to: str | None = None  # "the watcher" / "the workbench" when the writer did it
    message: str | None = None  # why it failed, one line
    report: RunReport | None = field(default=None, repr=False)  # the run's details, when done here

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class Lake:
    """One workspace's lake. Cheap to keep open: reading takes no lock; close() frees the DuckDB
    connection (or `with rat_tui.open() as lake:`)."""

    def __init__(self, workspace: Workspace, read_only: bool = False) -> None:
        self.workspace = workspace
        self.path = workspace.root
        self.engine = Engine(workspace)  # the façade under it, for faces built on a Lake (rat serve)
        # read_only: the connection reads nothing but the lake and changes no setting (rat serve)
        self.live = LiveSession(workspace, self.engine.view_models, read_only=read_only)

    def __repr__(self) -> str:
        return f"<rat lake {self.path}>"

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the query connection and the state database's handle."""
        self.live.close()
        self.engine.close()

    # Reading

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Run SQL over the lake; a DuckDB relation (`.pl()`, `.arrow()`, `.df()`, `.fetchall()`).

        Tables are named `layer.table` (`gold.daily_revenue`). Each call first moves every table to
        its newest committed version, so a query sees whole versions, never a commit half done.
        Raises QueryError with DuckDB's message when the query is wrong.
        """
        from rat_tui.engine.errors import QueryError
        from rat_tui.engine.query import query_error_text

        # A cursor of its own: Streamlit's threads (or rat serve's) may query one Lake at once.
        try:
            relation = self.live.cursor().sql(query)
        except Exception as exc:  # duckdb.Error and friends
            raise QueryError(query_error_text(exc)) from None
        if relation is None:
            raise QueryError("the statement returns no rows (rat's lake is read here, not written)")
        return relation

    def table(self, name: str, version: int | None = None) -> pl.LazyFrame:
        """A table as a polars LazyFrame: its current version, or `version` (time travel).

        `name` is `layer.table`, or the table's name alone where one layer has it. A model
        materialized as a view is read through DuckDB and has no versions.
        """
        import polars as pl

        try:
            resolved = self.engine.resolve_table(name)
        except RatError:
            view = view_named(self.engine.view_models(), name)
            if view is None:
                raise
            if version is not None:
                raise RatError(f"{view} is a view: it has no versions; read a table's version instead") from None
            return self.sql(f"select * from {view}").pl().lazy()
        path = self.workspace.table_path(resolved)
        if version is not None:
            check_readable_version(path, resolved, version, "; lake.history() lists them")
        return pl.scan_delta(str(path), version=version)

    def tables(self) -> list[Table]:
        """Every table of the lake (bronze, silver, gold) and every view model, in layer order."""
        from rat_tui.engine import lake as delta

        out = []
        for name in delta.list_tables(self.workspace):
            info = delta.table_info(name, self.workspace.table_path(name))
            if info is not None:
                columns = info.sql_columns
                out.append(
                    Table(name, info.layer, "table", info.rows, info.version, columns, info.updated_at, info.path)
                )
        for name in sorted(set(self.engine.view_models()) - {t.name for t in out}):
            relation = self.sql(f"select * from {name} limit 0")
            columns = tuple(zip(relation.columns, (str(t) for t in relation.types), strict=True))
            out.append(Table(name, name.split(".")[0], "view", None, None, columns))
        return out

    def history(self, name: str) -> list[Version]:
        """A table's versions, newest first: time, operation, rows, rat's run, schema changes."""
        return [Version.of(entry) for entry in self.engine.history(name)]

    def diff(self, name: str, v1: int | None = None, v2: int | None = None, rows: bool = False) -> Diff:
        """Rows added, removed and changed from v1 to v2 (default: the last change of its data)."""
        return self.engine.diff(name, v1, v2, rows=rows)

    def status(self) -> WorkspaceStatus:
        """Every table and model with its state as the next run sees it (ok, stale, failed, ...),
        the last runs, sources, recent schema changes and the files waiting in quarantine."""
        return self.engine.status()

    # Writing: one writer per workspace, so these hand the work over when another process writes

    def run(self, *selectors: str, full_refresh: bool = False) -> RunResult:
        """Ingest what waits in landing/ and build the stale models (only `selectors`, as in
        `rat run`). When `rat watch` or the workbench holds the workspace, it does the run and this
        waits for it, exactly as `rat run` does. Returns how it ended; a failed model is a result
        with status "failed", not an exception."""
        return self._write("run", list(selectors), full_refresh=full_refresh)

    def pull(self, *sources: str) -> RunResult:
        """Pull the named sources of rat.toml now (all of them when none is named), ingest what they
        landed and build what that made stale. Handed to the running writer like `run`."""
        known = self.workspace.settings.sources
        unknown = [s for s in sources if s not in known]
        if unknown:
            have = ", ".join(known) or "none: add [sources.<name>] to rat.toml"
            raise RatError(f"no source named {', '.join(unknown)} in rat.toml (sources: {have})")
        return self._write("pull", [], sources=list(sources) or list(known))

    def _write(self, kind: str, selectors: list[str], full_refresh: bool = False, sources: Any = None) -> RunResult:
        from rat_tui.engine.errors import LockedError
        from rat_tui.engine.workspace import writer_name

        engine = self.engine
        try:
            if kind == "pull":
                report = engine.run([], files=set(), sources=sources)
            else:
                report = engine.run(selectors, full_refresh=full_refresh)
        except LockedError as locked:
            args = {"sources": sources} if kind == "pull" else None
            request = engine.hand_over(locked, kind, args, selectors=selectors, full_refresh=full_refresh)
            outcome = engine.wait_for_request(request, locked)
            holder = writer_name(locked.role, locked.pid)
            return RunResult(outcome.status, outcome.run_id, holder, outcome.message)
        failures = {**report.failed, **{f"source {n}": e for n, e in report.sources_failed.items()}}
        failures.update({f"landing/{p}": why for p, why in report.quarantined})
        message = "; ".join(f"{what}: {why}" for what, why in failures.items()) or None
        return RunResult(report.status, report.run_id, None, message, report)
