"""F1: the keys of the workbench."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Editor", ""),
    ("ctrl+j / ctrl+enter", "run the selection, or the statement under the cursor"),
    ("escape", "cancel the running query"),
    ("ctrl+n / ctrl+w", "new editor tab / close it (tabs are kept across restarts)"),
    ("f8", "query history: search and reuse past queries"),
    ("ctrl+e", "export the last query's whole result (.csv, .parquet, .json)"),
    ("ctrl+y", "copy the cell under the grid's cursor (OSC 52, works over SSH)"),
    ("s (in the grid)", "sort the results by the cursor's column (again: descending)"),
    ("r / R (in the grid)", "copy the row / the rows (up to 10,000), tab-separated with a header"),
    ("ctrl+o / ctrl+s", "open a .sql file into a new tab / save this tab as a .sql file"),
    ("ctrl+l", "view the cell under the cursor whole"),
    ("ctrl+/", "comment or uncomment the selected lines"),
    ("ctrl+space", "complete the name at the cursor (the list also opens as you type)"),
    ("tab / enter", "take the highlighted completion; up/down move in the list, escape closes it"),
    ("Lake tree", ""),
    ("i", "insert the table or column name at the editor's cursor"),
    ("enter", "open the table: preview, schema, profile, versions (d diffs two), lineage"),
    ("Pipeline panel", ""),
    ("enter", "run the selected model and everything downstream of it"),
    ("f", "rebuild the selected model and its downstream in full"),
    ("e", "show the selected model's last error, with its file and line (o opens the file there)"),
    ("r", "run the pipeline: ingest what waits in landing/, build what is stale"),
    ("i", "ingest now: take every file in landing/ without waiting for it to settle"),
    ("Everywhere", ""),
    ("ctrl+r", "run the pipeline (ingest what waits in landing/, build what is stale)"),
    ("f2", "hide or show the side panels"),
    ("f5", "runs: history, each model's build, errors, failed checks with sample rows"),
    ("f4", "lineage: the model graph, the selected table's upstream and downstream marked"),
    ("ctrl+p", "command palette: every action by name, themes too"),
    ("f1", "this help"),
    ("ctrl+q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    """The keys that matter, grouped by where they work."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-height: 80%; border: round $primary; padding: 1 2; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        lines = []
        for key, what in KEYS:
            lines.append(f"\n[b]{key}[/b]" if not what else f"  [b]{key:<20}[/b] {what}")
        with VerticalScroll():
            yield Static("[b]rat workbench[/b] — keys" + "\n".join(lines), id="help-text")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
