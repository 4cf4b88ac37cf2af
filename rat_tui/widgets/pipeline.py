"""The pipeline panel: every model with its state, last duration and rows, live from engine events."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Label, ProgressBar

from rat_tui.actions import bindings
from rat_tui.engine import MODEL_LAYERS, BuildState, TableStatus
from rat_tui.widgets.lake_tree import LakeTree

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

    def on_mount(self) -> None:
        self.set_interval(0.5, self.tick)  # the widget's own timer: it stops when the widget goes

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

    BINDINGS: ClassVar[list[BindingType]] = bindings("pipeline")  # rat_tui/actions.py

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

    def action_run_selected(self) -> None:
        if model := self.selected_model():
            self.post_message(self.RunModel(model, False))

    def action_refresh_selected(self) -> None:
        if model := self.selected_model():
            self.post_message(self.RunModel(model, True))

    def action_open_model(self) -> None:
        if model := self.selected_model():
            self.post_message(LakeTree.OpenModel(model))

    def action_run_all(self) -> None:
        self.post_message(self.RunAll(False))

    def action_ingest_now(self) -> None:
        self.post_message(self.RunAll(True))

    def action_show_error(self) -> None:
        if model := self.selected_model():
            self.post_message(self.ShowError(model))

    DEFAULT_CSS = """
    PipelinePanel { width: 100%; }
    """
    name_width = 15  # the model column's width: what the panel's width leaves, up to the longest name

    def on_mount(self) -> None:
        self.set_interval(0.5, self.tick)  # running models' elapsed times
        self.cursor_type = "row"
        self._started: dict[str, float] = {}
        self._models: dict[str, tuple[str, str, str]] = {}  # model -> (state, time, rows) shown
        self._add_columns()

    def _add_columns(self) -> None:
        self.add_column("model", width=self.name_width, key="model")
        self.add_column("state", width=9, key="state")
        self.add_column("time", width=5, key="time")
        self.add_column("rows", width=6, key="rows")

    def selected_model(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key and not str(key).startswith(LAYER_ROW) else None

    def state_of(self, model: str) -> str:
        """The state shown for a model, as a word: ok, failed, check failed, running, queued ..."""
        return self._models.get(model, ("",))[0]

    def set_models(self, models: dict[str, TableStatus]) -> None:
        """Rows from `rat status`'s silver and gold tables, grouped under their layer."""
        for name, t in models.items():
            state = str(t.state or "idle").replace("_", " ")
            if name in self._started:
                state = "running"
            seconds = t.last_run.seconds if t.last_run is not None else None
            took = _seconds(seconds) if seconds is not None else ""
            self._models[name] = (state, took, _rows(t.rows))
        gone = [m for m in self._models if m not in models and m not in self._started]
        for m in gone:  # a model whose file was deleted
            del self._models[m]
        if gone or set(self._models) - {str(k.value) for k in self.rows}:
            self._rebuild()
            self._fit()
        else:
            for name in models:
                self._show(name)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The model column takes the width the other columns leave (a wide panel shows whole names)."""
        longest = max((len(n.split(".", 1)[1]) for n in self._models), default=15)
        # state 9, time 5, rows 6, and the cells' padding (2 each) and the scrollbar
        width = max(10, min(longest, self.size.width - 9 - 5 - 6 - 8 - 2))
        if width != self.name_width and self.size.width:
            self.name_width = width
            self.clear(columns=True)
            self._add_columns()
            self._rebuild()

    def _rebuild(self) -> None:
        """All rows again, by layer then name (a new model takes its place in its group)."""
        selected = self.selected_model()
        self.clear()
        for layer in MODEL_LAYERS:
            names = sorted(n for n in self._models if n.startswith(layer + "."))
            if not names:
                continue
            self.add_row(f"[b]{layer}[/b]", "", "", "", key=LAYER_ROW + layer)
            for name in names:
                state, took, rows = self._models[name]
                self.add_row(_short(name, self.name_width), _label(state), took, rows, key=name)
        if selected in self._models:
            self.move_cursor(row=self.get_row_index(selected))

    def _show(self, model: str) -> None:
        state, took, rows = self._models[model]
        if model not in self.rows:
            self._rebuild()
            return
        self.update_cell(model, "state", _label(state))
        self.update_cell(model, "time", took)
        self.update_cell(model, "rows", rows)

    def _set(self, model: str, state: str | None = None, took: str | None = None, rows: str | None = None) -> None:
        old = self._models.get(model, ("idle", "", ""))
        self._models[model] = (state or old[0], old[1] if took is None else took, old[2] if rows is None else rows)
        self._show(model)

    def model_started(self, model: str) -> None:
        self._started[model] = time.monotonic()
        self._set(model, "running", "0.0s")

    def model_finished(self, model: str, status: str, seconds: float, rows: int | None) -> None:
        self._started.pop(model, None)
        if status == BuildState.UP_TO_DATE:
            if self.state_of(model) == "queued":
                self._set(model, "ok")
            return
        self._set(
            model,
            status.replace("_", " "),
            _seconds(seconds) if seconds else "",
            _rows(rows) if rows is not None else None,
        )

    def model_queued(self, models: list[str]) -> None:
        for model in models:
            if model not in self._started:
                self._set(model, "queued")

    def run_finished(self) -> None:
        """A run ended (also by an error): nothing it started is running any more; the states
        come back with the next lake load."""
        self._started.clear()

    def tick(self) -> None:
        """Running models show how long they have run."""
        now = time.monotonic()
        for model, since in self._started.items():
            if model in self._models:
                self._set(model, took=_seconds(now - since))


LAYER_ROW = "layer:"
STATE_ICONS = {
    "ok": "✓",
    "stale": "↻",
    "failed": "✗",
    "check failed": "✗",
    "skipped": "…",
    "running": "▶",
    "queued": "◦",
    "idle": "·",
    "never built": "·",
}


def _label(state: str) -> str:
    short = {"check failed": "checks", "never built": "idle"}.get(state, state)
    return f"{STATE_ICONS.get(state, '·')} {short}"


def _short(model: str, width: int) -> str:
    name = model.split(".", 1)[1]
    return name if len(name) <= width else name[: width - 1] + "…"


def _seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 100:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _rows(rows: int | None) -> str:
    if rows is None:
        return ""
    if rows < 100_000:
        return f"{rows:,}"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if rows >= size:
            return f"{rows / size:.1f}{unit}" if rows < size * 100 else f"{rows / size:.0f}{unit}"
    return str(rows)
