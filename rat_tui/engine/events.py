"""Typed events the engine emits; the CLI prints them to stderr, the workbench turns them into messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base class of everything the engine reports."""


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str


@dataclass(frozen=True)
class FileSkipped(Event):
    """A landing file whose bytes are already in its bronze table."""

    path: str
    table: str


@dataclass(frozen=True)
class FileQuarantined(Event):
    path: str
    table: str
    reason: str
    moved_to: str


@dataclass(frozen=True)
class FileUnreadable(Event):
    """A landing file rat may not read (permissions): it stays in landing/ and is tried again."""

    path: str
    table: str
    reason: str  # "permission denied"


@dataclass(frozen=True)
class TableIngested(Event):
    table: str
    files: int
    rows: int
    version: int
    seconds: float
    notes: tuple[str, ...] = ()  # what was detected in its files: "landing/x.json: the records under 'data'"


@dataclass(frozen=True)
class SchemaChanged(Event):
    """A landing file added a column to a bronze table or changed a column's type (never silently)."""

    table: str
    column: str
    change: str  # added | widened | nested
    old_type: str | None
    new_type: str
    file: str  # relative to landing/
    version: int
    example: str | None = None  # a value of the file the old type could not hold
    message: str = ""  # the announcement, in one line


@dataclass(frozen=True)
class ModelStarted(Event):
    model: str


@dataclass(frozen=True)
class ModelFinished(Event):
    model: str
    status: str  # ok | failed | check_failed | skipped | up_to_date
    rows: int | None = None
    version: int | None = None
    seconds: float = 0.0
    error: str | None = None
    warnings: tuple[str, ...] = ()  # warn-severity checks that did not pass
    mode: str | None = None  # full | incremental


@dataclass(frozen=True)
class ModelWarning(Event):
    """Something in a model file rat does not read but the user probably meant (a mistyped header)."""

    model: str
    message: str


@dataclass(frozen=True)
class BuildPlanned(Event):
    """The models a run will consider, in build order (each is queued until built or found fresh)."""

    models: tuple[str, ...]


@dataclass(frozen=True)
class Progress(Event):
    """How far a run's step has come: ingest in bytes of landing files, build in models."""

    step: str  # ingest | build
    done: int
    total: int
    current: str = ""  # the table being ingested or the model being built


@dataclass(frozen=True)
class RunFinished(Event):
    run_id: str
    status: str  # ok | failed | noop
    files_ingested: int
    files_quarantined: int
    models_built: int
    models_failed: int
    models_skipped: int
    seconds: float


@dataclass(frozen=True)
class SourcePulled(Event):
    """A source's pull finished: its records are in `file` (under landing/), or there were none."""

    source: str
    table: str
    records: int
    pages: int
    file: str | None
    seconds: float


@dataclass(frozen=True)
class SourceFailed(Event):
    """A source's pull failed; nothing of it was written. `error` never holds a secret."""

    source: str
    error: str
    seconds: float


Listener = Callable[[Event], None]


class EventBus:
    """Fan-out of engine events to subscribers; a failing subscriber never stops the engine."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                pass
