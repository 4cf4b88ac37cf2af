"""The pipeline panel: every model with its state, last duration and rows, live from engine events."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable


class PipelinePanel(DataTable[str]):
    """One row per model: idle, running (with elapsed time), ok, failed, check failed, skipped.

    enter runs the selected model with everything downstream of it, f rebuilds it (and downstream)
    in full, e shows its last error.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run_selected", "Run model+"),
        Binding("f", "refresh_selected", "Full refresh"),
        Binding("e", "show_error", "Error"),
    ]

    class RunModel(Message):
        """Run this model and its downstream (a full refresh if asked)."""

        def __init__(self, model: str, full_refresh: bool) -> None:
            self.model = model
            self.full_refresh = full_refresh
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
        self._set(model, "running", "", None)

    def model_finished(self, model: str, status: str, seconds: float, rows: int | None) -> None:
        if status == "up_to_date":
            return
        self._set(model, status.replace("_", " "), f"{seconds:.2f}s" if seconds else "", rows)

    def _set(self, model: str, state: str, took: str, rows: int | None) -> None:
        if model not in self.rows:
            self.add_row(model, state, took, "", key=model)
            return
        keys = list(self.columns)
        self.update_cell(model, keys[1], state)
        self.update_cell(model, keys[2], took)
        if rows is not None:
            self.update_cell(model, keys[3], f"{rows:,}")
