"""The pipeline panel: every model with its state, last duration and rows, live from engine events."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Label, ProgressBar

SHOW_AFTER = 0.5  # seconds a run must last before its progress bar shows: quick runs do not flicker


class RunProgress(Horizontal):
    """A bar over the footer while a long ingest (bytes) or build (models) runs."""

    DEFAULT_CSS = """
    RunProgress { dock: bottom; height: 1; display: none; background: $boost; padding: 0 1; }
    RunProgress > Label { width: 1fr; }
    RunProgress > ProgressBar { width: auto; }
    """

    def __init__(self) -> None:
        super().__init__(id="run-progress")
        self.started: float | None = None
        self.step = ""

    def compose(self) -> ComposeResult:
        yield Label("", markup=False)
        yield ProgressBar(show_eta=False)

    def run_started(self) -> None:
        self.started = time.monotonic()
        self.display = False

    def progress(self, step: str, done: int, total: int, current: str) -> None:
        if self.started is None:
            self.started = time.monotonic()
        bar = self.query_one(ProgressBar)
        if step != self.step:
            bar.update(total=max(total, 1), progress=0)
            self.step = step
        bar.update(total=max(total, 1), progress=done)
        if step == "ingest":
            what = f"ingesting {current} · {done / 2**20:,.0f} of {total / 2**20:,.0f} MB" if current else "ingested"
        else:
            what = f"building {current} · {done} of {total} models" if current else "built"
        self.query_one(Label).update(what)
        if time.monotonic() - self.started >= SHOW_AFTER:
            self.display = True

    def tick(self) -> None:
        """Shows the bar once a run has lasted SHOW_AFTER."""
        if self.started is not None and self.step and time.monotonic() - self.started >= SHOW_AFTER:
            self.display = True

    def run_finished(self) -> None:
        self.started = None
        self.step = ""
        self.display = False


class PipelinePanel(DataTable[str]):
    """One row per model: idle, running (with elapsed time), ok, failed, check failed, skipped.

    enter runs the selected model with everything downstream of it, f rebuilds it (and downstream)
    in full, e shows its last error.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run_selected", "Run model+"),
        Binding("f", "refresh_selected", "Full refresh"),
        Binding("e", "show_error", "Error"),
        Binding("r", "run_all", "Run all"),
        Binding("i", "ingest_now", "Ingest now"),
    ]

    class RunModel(Message):
        """Run this model and its downstream (a full refresh if asked)."""

        def __init__(self, model: str, full_refresh: bool) -> None:
            self.model = model
            self.full_refresh = full_refresh
            super().__init__()

    class RunAll(Message):
        """Run the pipeline now: what waits in landing/ (even if still settling) and what is stale."""

        def __init__(self, ingest_now: bool) -> None:
            self.ingest_now = ingest_now
            super().__init__()

    class ShowError(Message):
        def __init__(self, model: str) -> None:
            self.model = model
            super().__init__()

    def selected_model(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key else None

    def action_run_selected(self) -> None:
        if model := self.selected_model():
            self.post_message(self.RunModel(model, False))

    def action_refresh_selected(self) -> None:
        if model := self.selected_model():
            self.post_message(self.RunModel(model, True))

    def action_run_all(self) -> None:
        self.post_message(self.RunAll(False))

    def action_ingest_now(self) -> None:
        self.post_message(self.RunAll(True))

    def action_show_error(self) -> None:
        if model := self.selected_model():
            self.post_message(self.ShowError(model))

    DEFAULT_CSS = """
    PipelinePanel { width: 30%; max-width: 48; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("model", "state", "time", "rows")
        self._started: dict[str, float] = {}

    def set_models(self, models: dict[str, dict[str, Any]]) -> None:
        """Rows from `rat status` entries of silver and gold tables."""
        for name, t in models.items():
            run = t.get("last_run") or {}
            values = (
                name,
                t.get("state", "idle"),
                f"{run['seconds']:.2f}s" if run.get("seconds") is not None else "",
                f"{t['rows']:,}" if t.get("rows") is not None else "",
            )
            if name in self.rows:
                for column, value in zip(self.columns, values, strict=True):
                    self.update_cell(name, column, value)
            else:
                self.add_row(*values, key=name)

    def model_started(self, model: str) -> None:
        self._started[model] = time.monotonic()
        self._set(model, "running", "0.0s", None)

    def model_finished(self, model: str, status: str, seconds: float, rows: int | None) -> None:
        self._started.pop(model, None)
        if status == "up_to_date":
            if model in self.rows and self.get_cell(model, list(self.columns)[1]) == "queued":
                self.update_cell(model, list(self.columns)[1], "ok")
            return
        self._set(model, status.replace("_", " "), f"{seconds:.2f}s" if seconds else "", rows)

    def model_queued(self, models: list[str]) -> None:
        for model in models:
            if model in self.rows and model not in self._started:
                self.update_cell(model, list(self.columns)[1], "queued")

    def tick(self) -> None:
        """Running models show how long they have run."""
        now = time.monotonic()
        for model, since in self._started.items():
            if model in self.rows:
                self.update_cell(model, list(self.columns)[2], f"{now - since:.1f}s")

    def _set(self, model: str, state: str, took: str, rows: int | None) -> None:
        if model not in self.rows:
            self.add_row(model, state, took, "", key=model)
            return
        keys = list(self.columns)
        self.update_cell(model, keys[1], state)
        self.update_cell(model, keys[2], took)
        if rows is not None:
            self.update_cell(model, keys[3], f"{rows:,}")
