"""The messages the workbench's workers and the engine thread post to the workbench screen.

Workers never touch a widget (Harlequin's rule): they post one of these, and the screen's handlers
own every change on screen. A message posted to a screen that has closed is dropped by Textual.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from rat_tui.engine import TableStatus
    from rat_tui.engine.results import FirstRows, QueryRun


class QueryDone(Message):
    """A query's first rows, ready for the grid."""

    def __init__(self, run: QueryRun, first: FirstRows, painted: threading.Event) -> None:
        self.run = run
        self.first = first
        self.painted = painted  # set once the grid is on screen (counting waits for it)
        super().__init__()


class QueryCounted(Message):
    def __init__(self, run: QueryRun, total: int | None, seconds: float) -> None:
        self.run = run
        self.total = total  # None: counting was cancelled
        self.seconds = seconds
        super().__init__()


class QueryFailed(Message):
    def __init__(self, run: QueryRun | None, error: str) -> None:
        self.run = run  # None: not a query's (an export)
        self.error = error
        super().__init__()


class Exported(Message):
    def __init__(self, path: str, rows: int) -> None:
        self.path = path
        self.rows = rows
        super().__init__()


class CatalogLoaded(Message):
    def __init__(self, keywords: list[str], functions: list[str]) -> None:
        self.keywords = keywords
        self.functions = functions
        super().__init__()


class EngineMode(Message):
    """What the in-app engine is doing: watching, a viewer of another writer, or stopped (why)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        super().__init__()


class EngineEvent(Message):
    """An engine event, carried from whichever thread emitted it to the screen."""

    def __init__(self, event: Any) -> None:
        self.event = event
        super().__init__()


class LakeLoaded(Message):
    def __init__(
        self, tables: list[TableStatus], columns: dict[str, list[tuple[str, str]]], quarantined: int = 0
    ) -> None:
        self.tables = tables
        self.columns = columns
        self.quarantined = quarantined  # files waiting in .rat/quarantine/
        super().__init__()
