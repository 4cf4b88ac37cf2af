"""watchdog events -> settled, debounced runs of the engine: `rat watch`, and the workbench's engine.

File events are hints, not truth: watchdog reports `created` when a write starts, repeats
`modified`, and drops events when its queue overflows. So an event only wakes the watcher, which
then looks at landing/ itself (as it also does on start and every few seconds): a file is taken
once its size and mtime have not changed for `settle_seconds`, so a file still being written is
never taken early, and a file moved in whole (mtime in the past) is taken at once.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rat_tui.engine.errors import RatError, WorkspaceError
from rat_tui.engine.events import (
    ChangeSeen,
    Event,
    RequestDone,
    RunSeen,
    SettingsError,
    TableChanged,
    WatchStarted,
    WatchStopped,
)
from rat_tui.engine.ingest import is_pending_name, scan_landing
from rat_tui.engine.sources.pulling import due_sources

if TYPE_CHECKING:
    from rat_tui.engine.engine import Engine

RESCAN_SECONDS = 2.0  # how often landing/ is looked at without any event (lost events, network mounts)
DEBOUNCE_SECONDS = 0.05  # an editor's save or a copy is several events: let them arrive
BATCH_SECONDS = 1.0  # how long settled files wait for others still being written


class Watcher:
    """Runs the engine whenever landing/, models/ or rat.toml change, until `stop()`."""

    def __init__(self, engine: Engine, role: str = "watch") -> None:
        self.engine = engine
        self.ws = engine.ws
        self.role = role  # who holds the writer lock, for those it refuses: "watch" or "workbench"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._dirty: set[str] = set()  # kinds of change seen since the last cycle
        self._noticed: set[str] = set()  # paths reported since the last cycle
        # Landing paths renamed into place: a rename is atomic, so the file is whole at once.
        self._moved_in: set[str] = set()
        self._first_run_done = False
        self._model_due: datetime | None = None  # when the next scheduled model falls due
        self._ready_since: float | None = None
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, int]] = {}  # landing path -> (size, mtime_ns) when last looked at
        # (path, size, mtime_ns) of landing files the ledger already has: the rescan every 2 s
        # stats them but does not ask the state database about them again.
        self._done: set[tuple[str, int, int]] = set()
        # Landing files rat may not read (permissions), with (size, mtime_ns) then: reported once,
        # then tried again only once they open (a chmod changes neither) or change.
        self._unreadable: dict[str, tuple[int, int]] = {}
        self.runs = 0

    # Called from watchdog's thread.
    def notice(self, kind: str, path: str, moved_in: str | None = None) -> None:
        with self._lock:
            self._dirty.add(kind)
            if moved_in is not None:
                self._moved_in.add(moved_in)
            new = path not in self._noticed  # one line per changed path per cycle, not per raw event
            self._noticed.add(path)
        if new:
            self.engine.events.emit(ChangeSeen(kind, path))
        self._wake.set()

    def stop(self, reason: str = "stopped") -> None:
        self._stop_reason = reason
        self._stop.set()
        self._wake.set()

    def abort(self) -> None:
        """Stop now: interrupt the build in progress (nothing half-written is ever published)."""
        self.stop("aborted")
        self.engine.interrupt()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Hold the writer lock and watch until stopped; raise LockedError if another process writes."""
        with self.engine.writer(self.role):
            observer = self._observer()
            observer.start()
            import os

            self.engine.events.emit(WatchStarted(str(self.ws.root), self.ws.settings.watch_polling, os.getpid()))
            try:
                next_wake = self._cycle()
                while not self._stop.is_set():
                    woke = self._wake.wait(timeout=next_wake)
                    if self._stop.is_set():
                        break
                    if woke:
                        time.sleep(DEBOUNCE_SECONDS)
                    self._wake.clear()
                    next_wake = self._cycle()
            finally:
                observer.stop()
                observer.join(timeout=5)
                self.engine.events.emit(WatchStopped(getattr(self, "_stop_reason", "stopped")))

    def _observer(self) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler

        watcher = self
        root = self.ws.root
        landing, models, config = self.ws.landing, self.ws.models, root / "rat.toml"

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write") or event.is_directory:
                    return
                moved = event.event_type == "moved"
                for raw in (event.src_path, getattr(event, "dest_path", "")):
                    if not raw:
                        continue
                    path = Path(raw if isinstance(raw, str) else raw.decode())
                    if path == config:
                        watcher.notice("config", "rat.toml")
                    elif path.is_relative_to(landing) and not is_pending_name(path.name):
                        rel = path.relative_to(landing).as_posix()
                        watcher.notice(
                            "landing", f"landing/{rel}", moved_in=rel if moved and raw == event.dest_path else None
                        )
                    elif path.is_relative_to(models) and path.suffix in (".sql", ".py"):
                        watcher.notice("models", path.relative_to(root).as_posix())

        if self.ws.settings.watch_polling:
            from watchdog.observers.polling import PollingObserver

            observer: Any = PollingObserver(timeout=1.0)
        else:
            from watchdog.observers import Observer

            observer = Observer()
        handler = Handler()
        self.ws.ensure_dirs()
        observer.schedule(handler, str(landing), recursive=True)
        observer.schedule(handler, str(models), recursive=True)
        observer.schedule(handler, str(root), recursive=False)  # rat.toml; lake/ and .rat/ are not watched
        return observer

    def _cycle(self) -> float:
        """Handle what changed; return seconds until the next look at landing/."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            self._noticed = set()
        if "config" in dirty:
            try:
                self.ws.reload()
            except WorkspaceError as exc:
                self.engine.events.emit(SettingsError(f"{exc}; the previous settings stay"))
                dirty.discard("config")
        rolled_back = self._serve_requests()
        ready, waiting, wait = self._settled_files()
        now = time.monotonic()
        if ready and self._ready_since is None:
            self._ready_since = now
        # While other files are still being written (a burst, a copy of a folder), settled ones wait
        # a little for them: a burst lands in a few commits, not one per file. The first run waits
        # for all of them, so models do not build on a half-landed lake.
        held = waiting and (
            not self._first_run_done or (self._ready_since is not None and now - self._ready_since < BATCH_SECONDS)
        )
        if held:
            return min(wait, BATCH_SECONDS)
        # Sources of rat.toml are pulled when their `every` is due (all of them on start, unless
        # pulled within it before); the wake-up is no later than the next one falls due.
        due, until_due = due_sources(self.ws, self.engine.state)
        # Models with a `schedule` are rebuilt when it fires, even without new input.
        scheduled = self._model_due is not None and datetime.now(UTC) >= self._model_due
        # After a rollback the models downstream of the table catch up, as the next `rat run` would.
        if ready or due or scheduled or rolled_back or not self._first_run_done or dirty & {"models", "config"}:
            report = self._run(files=ready, sources=due)
            self._first_run_done = True
            self._ready_since = None
            due, until_due = due_sources(self.ws, self.engine.state)
            if due:  # a pull that took longer than its `every`: again soon, not at once
                until_due = min(until_due, 1.0)
            if report is not None:
                self._model_due = report.next_scheduled
        if self._model_due is not None:
            until_due = min(until_due, (self._model_due - datetime.now(UTC)).total_seconds())
        return min(wait, max(until_due, 0.05))

    def _run(
        self,
        files: set[str] | None,
        selectors: list[str] | None = None,
        full_refresh: bool = False,
        sources: list[str] | None = None,
    ) -> Any:
        try:
            report = self.engine.run(selectors, full_refresh=full_refresh, files=files, sources=sources or [])
        except RatError as exc:
            self.engine.events.emit(SettingsError(str(exc)))
            return None
        self.runs += 1
        for rel, _ in report.unreadable:
            self._unreadable[rel] = self._seen.get(rel, (-1, -1))
        return report

    def _serve_requests(self) -> bool:
        """Carry out what other processes asked for (`rat run`, `rat rollback`, `rat vacuum` while
        this watcher writes); return whether a table was rolled back."""
        from rat_tui.engine.handover import carry_out

        state = self.engine.state
        rolled_back = False
        while not self._stop.is_set() and (request := state.claim_request()) is not None:
            try:
                outcome = carry_out(self.engine, request)
            except BaseException as exc:
                why = f"the {request['kind']} was interrupted ({type(exc).__name__})"
                state.finish_request(request["id"], "failed", None, why)
                raise
            state.finish_request(request["id"], outcome.status, outcome.run_id, outcome.message, outcome.result)
            self.engine.events.emit(RequestDone(request["id"], outcome.status, outcome.run_id, outcome.kind))
            rolled_back |= outcome.kind == "rollback" and outcome.status == "ok"
        return rolled_back

    def _settled_files(self) -> tuple[set[str], bool, float]:
        """Landing files not yet ingested whose size and mtime have held for settle_seconds; whether
        others are still changing; and the seconds until the next may be settled (or the rescan
        interval)."""
        settle = self.ws.settings.settle_seconds
        now = time.time()
        ready: set[str] = set()
        waiting = False
        wait = RESCAN_SECONDS
        state = self.engine.state
        seen: dict[str, tuple[int, int]] = {}
        with self._lock:
            moved_in, self._moved_in = self._moved_in, set()
        for f in scan_landing(self.ws):
            if (f.rel, f.size, f.mtime_ns) in self._done:
                continue
            if self._unreadable.get(f.rel) == (f.size, f.mtime_ns):
                try:
                    open(f.path, "rb").close()  # only whether it opens now
                except OSError:
                    continue
                del self._unreadable[f.rel]
            digest = state.known_hash(f.rel, f.size, f.mtime_ns)
            if digest is not None and state.ledger_has(f.table, digest):
                self._done.add((f.rel, f.size, f.mtime_ns))  # in bronze or quarantined: never asked again
                continue
            signature = (f.size, f.mtime_ns)
            seen[f.rel] = signature
            age = now - f.mtime_ns / 1e9
            unchanged = self._seen.get(f.rel, signature) == signature
            if unchanged and (age >= settle or f.rel in moved_in):
                ready.add(f.rel)
            else:
                waiting = True
                wait = min(wait, max(settle - age, 0.02) if unchanged else settle)
        self._seen = seen
        return ready, waiting, wait


class Follower:
    """A viewer of a workspace another process writes (a second `rat` while `rat watch` runs):
    `poll()` reports the tables the writer committed and its runs since the last poll, and
    `request_run()` asks the writer to run, with the request's progress in `request()`."""

    def __init__(self, engine: Engine) -> None:
        from rat_tui.engine import lake

        self.engine = engine
        self._lake = lake
        self._versions = self._current_versions()
        self._runs = {r.run_id: r.status for r in engine.state.recent_runs(50)}

    def _current_versions(self) -> dict[str, int | None]:
        ws = self.engine.ws
        return {name: self._lake.latest_version(ws.table_path(name)) for name in self._lake.list_tables(ws)}

    def poll(self) -> list[Event]:
        events: list[Event] = []
        versions = self._current_versions()
        for name, version in versions.items():
            if version is not None and version != self._versions.get(name):
                events.append(TableChanged(name, version))
        self._versions = versions
        for run in reversed(self.engine.state.recent_runs(50)):
            if self._runs.get(run.run_id) != run.status:
                self._runs[run.run_id] = run.status
                events.append(RunSeen(run.run_id, run.status))
        for event in events:
            self.engine.events.emit(event)
        return events

    def request_run(self, selectors: list[str] | None = None, full_refresh: bool = False) -> int:
        import os

        return self.engine.state.add_request(list(selectors or []), full_refresh, os.getpid())

    def request(self, request_id: int) -> dict[str, Any] | None:
        return self.engine.state.request(request_id)
