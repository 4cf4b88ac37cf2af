"""The workbench's layout: the side column (lake tree over the pipeline panel) beside the editor
tabs, the results grid under the editor at the full width left of the side column; a key per pane
(f2 editor, f3 results, f6 tree, f7 pipeline), one to show a pane full screen (f10), one to hide
the side column (f9), two to resize it (alt+left, alt+right).

Why the pipeline panel sits under the tree: beside the editor it took a third of the width from
the results grid and left the lower right of the screen empty. Under 110 columns it hides (the
tree keeps the side column; f7 brings it back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.widgets import TabbedContent

from rat_tui.screens.workbench_workers import WorkbenchWorkers
from rat_tui.widgets.lake_tree import LakeTree
from rat_tui.widgets.pipeline import PipelinePanel
from rat_tui.widgets.results import ResultsView
from rat_tui.widgets.sql_editor import SqlEditor

if TYPE_CHECKING:
    from rat_tui.ui_state import UiState

WIDE = 110  # columns from which the pipeline panel shows under the tree
PIPELINE_WIDTH = 44  # the side column's width when the pipeline panel shows in it
PANES = ("editor", "results", "tree", "pipeline")


def side_width(screen_width: int, pipeline: bool) -> int:
    """The side column's width when the user has not set it: 30% of the screen, within limits."""
    auto = max(22, min(52, int(screen_width * 0.3)))
    return max(auto, PIPELINE_WIDTH) if pipeline else auto


class WorkbenchLayout(WorkbenchWorkers):
    """Panes, focus and sizes (the screen subclasses this through WorkbenchActions)."""

    ui_state: UiState
    zoomed: str | None = None  # the pane shown full screen
    panels_shown: bool = True  # f9 hides the side column
    pipeline_shown: bool | None = None  # None: by the terminal's width; f7 shows it
    side_cols: int | None = None  # set by alt+left / alt+right (kept in .rat/workbench.json)
    _was_wide: bool | None = None

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    @property
    def editor(self) -> SqlEditor:
        """The editor of the active tab."""
        pane = self.tabs.active_pane
        return pane.query_one(SqlEditor) if pane is not None else self.query_one(SqlEditor)

    def on_resize(self, event: events.Resize) -> None:
        # event.size: the screen's own size is not updated yet when this runs. Crossing WIDE
        # gives the pipeline panel back to the width's rule (f7 showed it on a narrow one).
        wide = event.size.width >= WIDE
        if wide != self._was_wide:
            self.pipeline_shown = None
            self._was_wide = wide
        self.apply_layout(event.size.width)

    def apply_layout(self, width: int | None = None) -> None:
        width = width or self.app.size.width
        z = self.zoomed
        side, center = self.query_one("#side"), self.query_one("#center")
        tree, panel = self.query_one(LakeTree), self.query_one(PipelinePanel)
        tabs, results = self.query_one("#tabs"), self.query_one(ResultsView)
        pipeline = self.pipeline_shown if self.pipeline_shown is not None else width >= WIDE
        side.display = z in ("tree", "pipeline") or (z is None and self.panels_shown)
        center.display = z not in ("tree", "pipeline")
        tree.display = z != "pipeline"
        panel.display = z == "pipeline" or (z != "tree" and pipeline)
        tabs.display = z != "results"
        results.display = z != "editor"
        tabs.styles.height = "1fr" if z == "editor" else "45%"
        if z in ("tree", "pipeline"):
            side.styles.width = "1fr"
        else:
            cols = self.side_cols or side_width(width, bool(panel.display))
            side.styles.width = max(16, min(cols, width - 30))

    def focused_pane(self) -> str | None:
        focused = self.focused
        for pane, widget in (
            ("tree", LakeTree),
            ("pipeline", PipelinePanel),
            ("results", ResultsView),
        ):
            node = focused
            while node is not None:
                if isinstance(node, widget):
                    return pane
                node = node.parent  # type: ignore[assignment]
        return "editor" if focused is not None else None

    def _focus(self, pane: str) -> None:
        if self.zoomed not in (None, pane):
            self.zoomed = None  # leave the full-screen pane for the one asked for
        if pane in ("tree", "pipeline"):
            self.panels_shown = True
        if pane == "pipeline":
            self.pipeline_shown = True
        self.apply_layout()
        if pane == "editor":
            self.editor.focus()
        elif pane == "tree":
            self.query_one(LakeTree).focus()
        elif pane == "pipeline":
            self.query_one(PipelinePanel).focus()
        elif not self.query_one(ResultsView).focus_grid():
            self.notify("no results yet: run a query with ctrl+j", severity="warning")

    def action_focus_editor(self) -> None:
        self._focus("editor")

    def action_focus_results(self) -> None:
        self._focus("results")

    def action_focus_tree(self) -> None:
        self._focus("tree")

    def action_focus_pipeline(self) -> None:
        self._focus("pipeline")

    def action_zoom(self) -> None:
        """The focused pane full screen; again (or another pane's key) brings the layout back."""
        pane = self.focused_pane() or "editor"
        self.zoomed = None if self.zoomed else pane
        self.apply_layout()
        self.notify(f"{pane} full screen: f10 again goes back" if self.zoomed else "layout back")

    def action_toggle_panels(self) -> None:
        self.zoomed = None
        self.panels_shown = not self.panels_shown
        self.apply_layout()
        if not self.panels_shown and self.focused_pane() in ("tree", "pipeline"):
            self.editor.focus()

    def _resize_side(self, by: int) -> None:
        width = self.app.size.width
        now = self.side_cols or side_width(width, bool(self.query_one(PipelinePanel).display))
        self.side_cols = max(16, min(now + by, width - 30))
        self.panels_shown = True
        self.apply_layout()
        self.ui_state.save_setting("side_width", self.side_cols)

    def action_narrower_side(self) -> None:
        self._resize_side(-4)

    def action_wider_side(self) -> None:
        self._resize_side(4)
