"""Pulling sources: data rat pulls itself (`[sources.<name>]` in rat.toml) into `landing/<name>/`,
from where the normal ingest takes it into `bronze.<name>`.

`rat run` pulls every source before it ingests; `rat watch` pulls each when its `every` is due.
A pull writes one NDJSON file (or nothing, when it found no records) and a row in state's
`source_pulls`; a failing source is reported and the run goes on without it. Each kind of source
has a module (PULLERS) with `pull(spec, landing)` and its `SourceError`.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rat_tui.engine.errors import StorageError
from rat_tui.engine.events import SourceFailed, SourcePulled, SourceWarning
from rat_tui.engine.sources.db_spec import DbSource

if TYPE_CHECKING:
    from rat_tui.engine.events import EventBus
    from rat_tui.engine.ingest.ingestor import IngestResult
    from rat_tui.engine.records import PullRecord
    from rat_tui.engine.sources.spec import Source
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace

# A source whose last pull failed is tried again after RETRY_FIRST_SECONDS, doubled with each
# failure in a row up to RETRY_MAX_SECONDS (and never later than its regular time).
RETRY_FIRST_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
# The module that pulls each kind of source, imported when a source of that kind is pulled.
PULLERS = {
    "http": "rat_tui.engine.sources.http",
    "graphql": "rat_tui.engine.sources.http",
    "postgres": "rat_tui.engine.sources.database",
}


@dataclass
class PullReport:
    """What a run's pulls did: records per pulled source, the landing files written, failures,
    and what was ingested before a pull (an earlier pull's file, left in landing/)."""

    pulled: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # relative to landing/
    failed: dict[str, str] = field(default_factory=dict)  # source -> error (redacted)
    settled: IngestResult | None = None


def _settle(ws: Workspace, state: State, bus: EventBus, run_id: str, name: str, report: PullReport) -> None:
    """Ingest the files an earlier pull of `name` landed and no run has ingested yet (a crash
    between the pull and its ingest): their cursor is committed with them, then the pull goes on
    from it, and nothing is pulled twice."""
    from rat_tui.engine.ingest import Ingestor

    folder = ws.landing / name
    # Only this source's folder is listed here; the ingest itself skips dotfiles and known files.
    waiting = {p.relative_to(ws.landing).as_posix() for p in folder.rglob("*") if p.is_file()}
    if not waiting:
        return
    done = Ingestor(ws, state, bus).run(run_id, only=waiting)
    if report.settled is None:
        report.settled = done
    else:
        report.settled.merge(done)


def pull_sources(
    ws: Workspace,
    state: State,
    bus: EventBus,
    run_id: str,
    names: Iterable[str] | None = None,
    full: bool = False,
) -> PullReport:
    """Pull the named sources (all when None), each on its own: one failing stops no other.
    `full`: incremental sources start from their `initial` value. What an earlier pull of an
    incremental source left in landing/ is ingested first, so that its cursor is committed
    before the next pull reads it."""
    from rat_tui.engine.clock import now_iso

    sources = ws.settings.sources
    report = PullReport()
    for name in list(sources) if names is None else [n for n in names if n in sources]:
        source = sources[name]
        puller = importlib.import_module(PULLERS[source.type])
        started_at, started = now_iso(), time.perf_counter()
        try:
            if isinstance(source, DbSource):  # straight into bronze, a commit per table
                result = puller.pull_database(source, ws, run_id, full)
            else:
                if source.incremental is not None:
                    _settle(ws, state, bus, run_id, name, report)
                result = puller.pull(source, ws.landing, bronze=ws.table_path(source.table), full=full)
        except puller.SourceError as exc:
            error, pages = str(exc), exc.pages
        except StorageError:
            raise  # the disk: the run stops, as an ingest's would
        except Exception as exc:  # a bug: its message may hold what the pull resolved, so only its kind
            error, pages = f"internal error ({type(exc).__name__}) while pulling; please report it", 0
        else:
            seconds = time.perf_counter() - started
            state.record_pull(
                name, run_id, started_at, "ok" if result.records else "empty", result.records, result.pages, result.file
            )
            report.pulled[name] = result.records
            if result.file:
                report.files.append(result.file)
            for warning in result.warnings:
                bus.emit(SourceWarning(name, warning))
            cursor = None if result.cursor is None else str(result.cursor)
            bus.emit(
                SourcePulled(
                    name, source.table, result.records, result.pages, result.file, seconds, cursor, result.dropped
                )
            )
            continue
        state.record_pull(name, run_id, started_at, "failed", 0, pages, None, error)
        report.failed[name] = error
        bus.emit(SourceFailed(name, error, time.perf_counter() - started))
    return report


def next_due(source: Source, last: PullRecord | None, failures: int = 0) -> datetime | None:
    """When the source is next due (None: now, it was never pulled). After a run of `failures`
    failed pulls, sooner: RETRY_FIRST_SECONDS, doubled with each failure up to RETRY_MAX_SECONDS,
    and never later than its regular time."""
    if last is None:
        return None
    started = datetime.fromisoformat(last.started_at)
    if source.schedule:
        from rat_tui.engine.schedule import parse_schedule

        regular = parse_schedule(source.schedule, source.timezone).next_after(started)
    else:
        regular = started + timedelta(seconds=source.every)
    if last.status != "failed" or failures < 1:
        return regular
    backoff = min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
    return min(regular, started + timedelta(seconds=backoff))


def due_sources(ws: Workspace, state: State, now: datetime | None = None) -> tuple[list[str], float]:
    """The sources due now (their `every` passed, or their `schedule` fired, since their last pull
    began; sooner after failed pulls, see next_due), and the seconds until the next one is due
    (inf if none). Firings missed while rat was down make one pull, not one per firing."""
    now = now or datetime.now(UTC)
    last = state.last_pulls()
    failures = state.pull_failures()
    due: list[str] = []
    wait = math.inf
    for name, source in ws.settings.sources.items():
        at = next_due(source, last.get(name), failures.get(name, 0))
        if at is None or at <= now:
            due.append(name)
        else:
            wait = min(wait, (at - now).total_seconds())
    return due, wait
