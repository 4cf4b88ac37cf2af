"""The runs screen: run history; for the selected run, each model's build and the checks that failed."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from rat_tui.engine import BuildState, RunDetails, RunRecord
from rat_tui.engine.state import seconds_between
from rat_tui.engine.workspace import Workspace


class RunsLoaded(Message):
    def __init__(self, runs: list[RunRecord], details: dict[str, RunDetails], quarantined: list[Any]) -> None:
        self.runs = runs
        self.details = details
        self.quarantined = quarantined
        super().__init__()


def _seconds(start: str | None, end: str | None) -> str:
    took = seconds_between(start, end)
    return "" if took is None else f"{took:.2f}s"


class RunsScreen(Screen[None]):
    """Runs newest first; the selected run's model builds, errors and failed checks with sample rows."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    #runs-grid { height: 40%; }
    #run-models { height: 30%; }
    #run-problems-scroll { height: 1fr; }
    #run-problems-scroll:focus { background: $boost; }
    #run-problems { padding: 0 1; }
    """

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.details: dict[str, RunDetails] = {}
        self.quarantined: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs-grid", cursor_type="row")
        yield DataTable(id="run-models", cursor_type="row")
        # The problems can be long (every failing check's sample rows): tab reaches them, arrows scroll.
        with VerticalScroll(id="run-problems-scroll", can_focus=True):
            yield Static("", id="run-problems", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "runs"
        self.query_one("#runs-grid", DataTable).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        from rat_tui.engine import Engine

        engine = Engine(self.workspace)
        try:
            runs = engine.recent_runs(100)
            details = {run.run_id: engine.run_details(run.run_id) for run in runs[:30]}
            quarantined = engine.quarantined()
        finally:
            engine.close()
        self.post_message(RunsLoaded(runs, details, quarantined))

    @on(RunsLoaded)
    def _loaded(self, message: RunsLoaded) -> None:
        self.details = message.details
        self.quarantined = message.quarantined
        grid = self.query_one("#runs-grid", DataTable)
        grid.add_columns("run", "command", "status", "took", "files", "built", "failed")
        for r in message.runs:
            grid.add_row(
                r.run_id,
                r.command or "",
                r.status,
                _seconds(r.started_at, r.finished_at),
                str(r.files_ingested or 0),
                str(r.models_built or 0),
                str(r.models_failed or 0),
                key=r.run_id,
            )
        models = self.query_one("#run-models", DataTable)
        models.add_columns("model", "status", "mode", "took", "rows in", "rows out", "version")
        if message.runs:
            self.show_run(message.runs[0].run_id)

    @on(DataTable.RowHighlighted, "#runs-grid")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.show_run(str(event.row_key.value))

    def show_run(self, run_id: str) -> None:
        detail = self.details.get(run_id, RunDetails(None, [], []))
        models = self.query_one("#run-models", DataTable)
        models.clear()
        for m in detail.models:
            models.add_row(
                m.model,
                m.status,
                m.mode or "",
                _seconds(m.started_at, m.finished_at),
                f"{m.rows_in:,}" if m.rows_in is not None else "",
                f"{m.rows_out:,}" if m.rows_out is not None else "",
                str(m.version) if m.version is not None else "",
            )
        lines = []
        failed_models = [m for m in detail.models if m.status in (BuildState.FAILED, BuildState.CHECK_FAILED)]
        lines += [f"{m.model}: {m.error}" for m in failed_models if m.error]
        if detail.run is not None and detail.run.error and not failed_models:
            lines.append(detail.run.error)  # the run failed on its own (a source, the disk), not in a model
        for q in self.quarantined:
            if q.run_id == run_id:
                lines.append(f"quarantined landing/{q.path} (now in {q.moved_to}): {q.reason}")
        for c in detail.checks:
            if c.status != "pass":
                lines.append(
                    f"{c.model}: check {c.name} ({c.severity}) {c.status}: {c.failing:,} row{'s' if c.failing != 1 else ''}"
                )
                lines += [f"    {json.dumps(row, default=str)}" for row in c.sample[:5]]
        self.query_one("#run-problems", Static).update("\n".join(lines) or "no errors, every check passed")
