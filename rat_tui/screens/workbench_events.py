"""What the workbench does with each engine event: one handler per event class in HANDLERS (an
event with none changes nothing on screen). Called on the UI thread by the workbench screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rat_tui.engine import BuildState
from rat_tui.engine import events as ev
from rat_tui.widgets.pipeline import PipelinePanel, RunProgress

if TYPE_CHECKING:
    from rat_tui.screens.workbench_actions import WorkbenchActions as Screen


def _run_started(screen: Screen, event: ev.RunStarted) -> None:
    screen.app.sub_title = "building"
    screen.query_one(RunProgress).run_started()


def _model_finished(screen: Screen, event: ev.ModelFinished) -> None:
    screen.query_one(PipelinePanel).model_finished(event.model, event.status, event.seconds, event.rows)
    if event.status in (BuildState.FAILED, BuildState.CHECK_FAILED):
        what = "failed its checks: nothing published" if event.status == BuildState.CHECK_FAILED else "failed"
        screen.notify(
            f"{event.error or ''}\n(e in the pipeline panel shows it)",
            title=f"{event.model} {what}",
            severity="error",
            timeout=8,
            markup=False,
        )


def _quarantined(screen: Screen, event: ev.FileQuarantined) -> None:
    screen.notify(f"landing/{event.path}: {event.reason}", title="file quarantined", severity="warning", markup=False)


def _schema_changed(screen: Screen, event: ev.SchemaChanged) -> None:
    screen.notify(event.message, title="schema change", severity="warning", timeout=10, markup=False)


def _model_warning(screen: Screen, event: ev.ModelWarning) -> None:
    screen.notify(
        event.message, title=f"{event.model}: settings not read", severity="warning", timeout=10, markup=False
    )


def _run_finished(screen: Screen, event: ev.RunFinished) -> None:
    screen.app.sub_title = getattr(screen.app, "mode", "")
    screen.query_one(RunProgress).run_finished()
    screen.query_one(PipelinePanel).run_finished()
    screen.load_lake()


HANDLERS: dict[type[ev.Event], Callable[[Any, Any], None]] = {
    ev.RunStarted: _run_started,
    ev.Progress: lambda s, e: s.query_one(RunProgress).progress(e.step, e.done, e.total, e.current),
    ev.BuildPlanned: lambda s, e: s.query_one(PipelinePanel).model_queued(list(e.models)),
    ev.ModelStarted: lambda s, e: s.query_one(PipelinePanel).model_started(e.model),
    ev.ModelFinished: _model_finished,
    ev.FileQuarantined: _quarantined,
    ev.SchemaChanged: _schema_changed,
    ev.ModelWarning: _model_warning,
    ev.RunFinished: _run_finished,
    # A viewer (another process writes): what it committed or ran shows at once.
    ev.TableChanged: lambda s, e: s.load_lake(),
    ev.RunSeen: lambda s, e: s.load_lake(),
}
