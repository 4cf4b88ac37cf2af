"""What `rat status` says: every table's state as the next run sees it, and what needs attention.

The state of a model comes from planning.predict, the same decision `rat run` makes, so the two
never disagree. `problems` lists what a monitor (`rat status --check`) should wake someone for:
models that fail or are skipped, files in quarantine, sources whose last pull failed, settings
rat does not read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import Where
from rat_tui.engine.records import RunRecord, SourceStatus
from rat_tui.engine.state import seconds_between
from rat_tui.engine.states import ATTENTION, BuildState

if TYPE_CHECKING:
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace


@dataclass
class LastRun:
    """A model's last build."""

    run: str
    status: str
    started_at: str
    finished_at: str | None
    seconds: float | None
    rows: int | None
    rows_in: int | None
    mode: str | None


@dataclass
class TableStatus:
    """One table (or model) as the next run sees it."""

    name: str
    layer: str
    kind: str  # bronze | table | view | incremental
    rows: int | None
    version: int | None
    built_at: str | None
    state: BuildState
    detail: str | None  # "up to date, matches version 3", why it is stale, the error
    columns: list[list[str]]  # [name, type]
    model: str | None = None  # its model file, relative to the workspace
    depends_on: list[str] | None = None
    warnings: list[str] | None = None  # model settings rat does not read
    last_run: LastRun | None = None
    error: str | None = None  # the detail, when the state needs attention
    error_at: Where | None = None  # the file, line and check that error points at (not in the JSON)
    sql_columns: list[list[str]] | None = None  # [name, DuckDB's type name]: the workbench's (not in the JSON)


@dataclass
class SchemaChangeSeen:
    table: str
    version: int
    at: str
    column: str
    change: str  # added | widened | nested
    old_type: str | None
    new_type: str
    file: str
    example: str | None


@dataclass
class QuarantinedFile:
    path: str
    table: str
    reason: str
    run: str
    at: str
    moved_to: str


@dataclass
class WorkspaceStatus:
    """`rat status`: every table, the last runs, the sources, what changed and what waits in quarantine."""

    workspace: str
    root: str
    tables: list[TableStatus]
    runs: list[RunRecord]
    sources: list[SourceStatus]
    schema_changes: list[SchemaChangeSeen] = field(default_factory=list)
    quarantine: list[QuarantinedFile] = field(default_factory=list)

    def table(self, name: str) -> TableStatus | None:
        return next((t for t in self.tables if t.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """`rat status --json`: a table's optional keys appear only when they hold something."""
        out = asdict(self)
        for t in out["tables"]:
            del t["error_at"]  # the faces' field: the JSON keeps the error's text as it always had
            del t["sql_columns"]  # the JSON keeps Delta's type names, as it always had
            for key in _OPTIONAL:
                if t[key] is None:
                    del t[key]
        return out


_OPTIONAL = ("model", "depends_on", "warnings", "last_run", "error")


def layer_order(name: str) -> tuple[int, str]:
    layer = name.split(".", 1)[0]
    return ({"bronze": 0, "silver": 1, "gold": 2}.get(layer, 3), name)


def workspace_status(ws: Workspace, state: State) -> WorkspaceStatus:
    from rat_tui.engine.ingest.quarantine import quarantined_files
    from rat_tui.engine.models import discover, plan
    from rat_tui.engine.planning import Planner

    models = discover(ws)
    last = state.last_model_runs()
    model_states = state.all_model_states()
    names = lake.list_tables(ws)
    waiting = waiting_tables(ws, state)
    graph = plan(ws, models, {n for n in names if n.startswith("bronze.")} | set(waiting))
    predictions = Planner(ws, state).predict(graph, waiting)
    tables: list[TableStatus] = []
    for name in sorted(set(names) | set(models), key=layer_order):
        info = lake.table_info(name, ws.table_path(name)) if name in names else None
        run = last.get(name)
        model = models.get(name)
        layer = name.split(".", 1)[0]
        detail: str | None = None
        if model is not None:
            table_state, detail = predictions[name].state, predictions[name].detail
        elif layer != "bronze":
            table_state = BuildState.NO_MODEL  # its model file was removed; the table stays until dropped
            detail = "its model file is gone; the table stays as it was"
        else:
            table_state = BuildState.OK
        entry = TableStatus(
            name=name,
            layer=layer,
            kind=model.materialized if model is not None else ("bronze" if layer == "bronze" else "table"),
            rows=info.rows if info else None,
            version=info.version if info else None,
            built_at=(model_states.get(name) or {}).get("built_at") or (info.updated_at if info else None),
            state=table_state,
            detail=detail,
            columns=[list(c) for c in info.columns] if info else [],
            sql_columns=[list(c) for c in info.sql_columns] if info else [],
        )
        if model is not None:
            entry.model = model.path.relative_to(ws.root).as_posix()
            entry.depends_on = list(model.depends_on)
            entry.warnings = list(model.warnings) or None
        if run is not None:
            entry.last_run = LastRun(
                run=run["run_id"],
                status=run["status"],
                started_at=run["started_at"],
                finished_at=run["finished_at"],
                seconds=seconds_between(run["started_at"], run["finished_at"]),
                rows=run["rows_out"],
                rows_in=run["rows_in"],
                mode=run["mode"],
            )
        if table_state in ATTENTION and detail:
            entry.error = detail
            entry.error_at = predictions[name].where if model is not None else None
        tables.append(entry)
    return WorkspaceStatus(
        workspace=ws.settings.name,
        root=str(ws.root),
        tables=tables,
        runs=state.recent_runs(10),
        sources=sources_status(ws, state),
        schema_changes=[
            SchemaChangeSeen(
                c["table_name"],
                c["version"],
                c["at"],
                c["column_name"],
                c["change"],
                c["old_type"],
                c["new_type"],
                c["file"],
                c["example"],
            )
            for c in state.schema_changes(20)
        ],
        quarantine=[
            QuarantinedFile(q.path, q.table, q.reason, q.run_id, q.at, q.moved_to) for q in quarantined_files(ws, state)
        ],
    )


def waiting_tables(ws: Workspace, state: State) -> dict[str, int]:
    """Bronze tables with files waiting in landing/ (not in the ledger): the next run ingests
    them, so what reads those tables is stale. Files seen before are known by size and mtime; a
    small new file is hashed (its bytes may be in bronze already, under another name); a large one
    is taken as new. Nothing is written."""
    from rat_tui.engine.ingest import STREAM_BYTES, file_digest, scan_landing

    out: dict[str, int] = {}
    for f in scan_landing(ws):
        digest = state.known_hash(f.rel, f.size, f.mtime_ns)
        if digest is None and f.size < STREAM_BYTES:
            try:
                digest = file_digest(f.path)
            except OSError:
                continue
        if digest is None or not state.ledger_has(f.table, digest):
            out[f.table] = out.get(f.table, 0) + 1
    return out


def sources_status(ws: Workspace, state: State) -> list[SourceStatus]:
    """Each source of rat.toml with its last pull."""
    from rat_tui.engine.sources.cursor import stored_state
    from rat_tui.engine.sources.pulling import next_due

    last, failures = state.last_pulls(), state.pull_failures()
    out = []
    for name, source in ws.settings.sources.items():
        committed = stored_state(ws.table_path(source.table)) if source.incremental else None
        due = next_due(source, last.get(name), failures.get(name, 0))
        out.append(
            SourceStatus(
                name,
                source.type,
                source.display_url,
                source.table,
                source.every_text,
                last.get(name),
                committed.get("cursor") if committed else None,
                due.isoformat(timespec="seconds") if due else None,
                failures.get(name, 0),
            )
        )
    return out


def problems(status: WorkspaceStatus) -> list[str]:
    """What needs someone's attention, one line each (empty when all is well)."""
    out = []
    for t in status.tables:
        if t.state in ATTENTION:
            out.append(f"{t.name} {t.state.replace('_', ' ')}: {t.detail or ''}".rstrip(": "))
        out += t.warnings or []
    for q in status.quarantine:
        out.append(f"landing/{q.path} is in quarantine ({q.moved_to}): {q.reason}")
    for s in status.sources:
        if s.last_pull is not None and s.last_pull.status == "failed":
            out.append(f"source {s.name} failed its last pull: {s.last_pull.error}")
    return out
