"""Typed events the engine emits; the CLI prints them to stderr, the workbench turns them into messages.

Every event is declared here with its wire name (`class X(Event, wire="X")`): the name
`rat watch --json` sends as "event", stable whatever the class is called in the code. EVENTS maps
each wire name to its class; the README's event stream section lists them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

EVENTS: dict[str, type[Event]] = {}  # wire name -> event class


@dataclass(frozen=True)
class Event:
    """Base class of everything the engine reports."""

    WIRE: ClassVar[str] = ""

    def __init_subclass__(cls, wire: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not wire:
            raise TypeError(f"{cls.__name__} needs a wire name: class {cls.__name__}(Event, wire=...)")
        if wire in EVENTS:
            raise TypeError(f"two events share the wire name {wire!r}")
        cls.WIRE = wire
        EVENTS[wire] = cls


@dataclass(frozen=True)
class RunStarted(Event, wire="RunStarted"):
    run_id: str


@dataclass(frozen=True)
class FileSkipped(Event, wire="FileSkipped"):
    """A landing file whose bytes are already in its bronze table."""

    path: str
    table: str


@dataclass(frozen=True)
class FileQuarantined(Event, wire="FileQuarantined"):
    path: str
    table: str
    reason: str
    moved_to: str


@dataclass(frozen=True)
class FileUnreadable(Event, wire="FileUnreadable"):
    """A landing file rat may not read (permissions): it stays in landing/ and is tried again."""

    path: str
    table: str
    reason: str  # "permission denied"


@dataclass(frozen=True)
class TableIngested(Event, wire="TableIngested"):
    table: str
    files: int
    rows: int
    version: int
    seconds: float
    notes: tuple[str, ...] = ()  # what was detected in its files: "landing/x.json: the records under 'data'"


@dataclass(frozen=True)
class SchemaChanged(Event, wire="SchemaChanged"):
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
class ModelStarted(Event, wire="ModelStarted"):
    model: str


@dataclass(frozen=True)
class ModelFinished(Event, wire="ModelFinished"):
    model: str
    status: str  # ok | failed | check_failed | skipped | up_to_date
    rows: int | None = None
    version: int | None = None
    seconds: float = 0.0
    error: str | None = None
    warnings: tuple[str, ...] = ()  # warn-severity checks that did not pass
    mode: str | None = None  # full | incremental | checks (re-checked, not rebuilt)


@dataclass(frozen=True)
class ModelWarning(Event, wire="ModelWarning"):
    """Something in a model file rat does not read but the user probably meant (a mistyped header)."""

    model: str
    message: str


@dataclass(frozen=True)
class BuildPlanned(Event, wire="BuildPlanned"):
    """The models a run will consider, in build order (each is queued until built or found fresh)."""

    models: tuple[str, ...]


@dataclass(frozen=True)
class Progress(Event, wire="Progress"):
    """How far a run's step has come: ingest in bytes of landing files, build in models."""

    step: str  # ingest | build
    done: int
    total: int
    current: str = ""  # the table being ingested or the model being built


@dataclass(frozen=True)
class RunFinished(Event, wire="RunFinished"):
    run_id: str
    status: str  # ok | failed | noop
    files_ingested: int
    files_quarantined: int
    models_built: int
    models_failed: int
    models_skipped: int
    seconds: float


@dataclass(frozen=True)
class SourcePulled(Event, wire="SourcePulled"):
    """A source's pull finished: its records are in `file` (under landing/), or there were none."""

    source: str
    table: str
    records: int
    pages: int
    file: str | None
    seconds: float
    cursor: str | None = None  # an incremental source: where the next pull starts
    dropped: int = 0  # an incremental source: records bronze already held


@dataclass(frozen=True)
class SourceWarning(Event, wire="SourceWarning"):
    """A pull worked but something looks wrong (it stopped after one page while the API had more)."""

    source: str
    message: str


@dataclass(frozen=True)
class SourceFailed(Event, wire="SourceFailed"):
    """A source's pull failed; nothing of it was written. `error` never holds a secret."""

    source: str
    error: str
    seconds: float


# What `rat watch` and a viewer report.


@dataclass(frozen=True)
class WatchStarted(Event, wire="WatchStarted"):
    root: str
    polling: bool
    pid: int


@dataclass(frozen=True)
class ChangeSeen(Event, wire="ChangeSeen"):
    """Something in landing/, models/ or rat.toml changed (what woke the watcher)."""

    kind: str  # landing | models | config
    path: str


@dataclass(frozen=True)
class SettingsError(Event, wire="SettingsError"):
    message: str


@dataclass(frozen=True)
class RequestDone(Event, wire="RequestDone"):
    request_id: int
    status: str
    run_id: str | None
    kind: str = "run"  # run | rollback | vacuum


@dataclass(frozen=True)
class WatchStopped(Event, wire="WatchStopped"):
    reason: str


@dataclass(frozen=True)
class TableChanged(Event, wire="TableChanged"):
    """A viewer saw a new version of a table committed by the writer."""

    table: str
    version: int


@dataclass(frozen=True)
class RunSeen(Event, wire="RunSeen"):
    """A viewer saw a run of the writer start or finish."""

    run_id: str
    status: str


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
