"""The workbench app: it owns the engine thread, the theme and the command palette, and shows the
workbench screen (rat_tui.screens.workbench), which owns the layout and every widget change.

The worker rule (from Harlequin): database work runs in thread workers that never touch widgets;
they post messages, and the screen's handlers own every widget change. The engine's watcher runs on
a thread of the app's and posts its events to the workbench screen the same way.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import BindingType

from rat_tui.actions import bindings, palette
from rat_tui.messages import EngineEvent, EngineMode
from rat_tui.screens.workbench import WorkbenchScreen
from rat_tui.ui_state import UiState

BUILD_NICENESS = 10
FOLLOW_SECONDS = 1.0  # how often a viewer looks for the writer's new versions and runs


def lower_priority() -> None:
    """Lower the calling thread's CPU priority (threads it starts inherit it); a no-op where the
    platform cannot."""
    import os

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BUILD_NICENESS)
    except (AttributeError, OSError):
        pass


class RatApp(App[None]):
    """The rat workbench over one workspace."""

    TITLE = "rat"
    CSS = WorkbenchScreen.LAYOUT_CSS
    # What works on every screen; the workbench's own keys are the workbench screen's.
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")

    def __init__(self, workspace: Path, watch: bool = True) -> None:
        super().__init__()
        from rat_tui.engine.workspace import Workspace

        self.workspace = Workspace.find(workspace)
        self.watch_engine = watch
        self.ui_state = UiState(self.workspace.state_dir)
        self._watcher: Any = None
        self._stop_following = threading.Event()  # set when the app closes: a viewer stops following
        self.mode = "starting"
        self.workbench: WorkbenchScreen

    def get_default_screen(self) -> WorkbenchScreen:
        self.workbench = WorkbenchScreen(self.workspace, self._notice_writer)
        return self.workbench

    # ctrl+p: every workbench action by name, next to Textual's own (themes, keys, quit).
    PALETTE: ClassVar[list[tuple[str, str, str]]] = palette()  # rat_tui/actions.py

    def get_system_commands(self, screen: Any) -> Any:
        from textual.app import SystemCommand

        yield from super().get_system_commands(screen)
        if screen is not self.workbench:
            return  # on other screens only Textual's own commands apply
        for title, action, help_text in self.PALETTE:
            yield SystemCommand(title, help_text, lambda action=action: self.workbench.run_action(action))

    def action_help(self) -> None:
        from rat_tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def on_mount(self) -> None:
        theme = self.ui_state.theme()  # the theme picked last time (ctrl+p → theme), if Textual still has it
        if theme in self.available_themes:
            self.theme = theme
        self.title = f"rat · {self.workspace.settings.name}"
        if self.watch_engine:
            self.run_engine()

    def on_unmount(self) -> None:
        self._stop_following.set()
        self.ui_state.save_theme(self.theme)
        if self._watcher is not None:
            self._watcher.stop("workbench closed")

    # The engine: watch mode on a thread of its own.

    def run_engine(self) -> None:
        """Start the engine in watch mode on a thread of its own (a viewer when another process
        writes). Not a pooled worker thread: its lowered priority must not pass on to queries."""
        threading.Thread(target=self._engine_main, name="rat-engine", daemon=True).start()

    def _engine_main(self) -> None:
        from rat_tui.engine import Engine
        from rat_tui.engine.errors import LockedError, first_line
        from rat_tui.engine.watch import Watcher
        from rat_tui.engine.workspace import writer_name

        # Builds run behind what the user types: this thread, and the DuckDB and polars threads it
        # starts (they inherit it), run at a lower priority than the UI's (Linux: per thread).
        lower_priority()
        engine = None
        try:
            engine = Engine(self.workspace)
            # To the screen: once it has closed, Textual drops what is still posted.
            engine.events.subscribe(self._to_workbench)
            self._watcher = Watcher(engine, role="workbench")  # others' messages name the workbench
            self.post_message(EngineMode("watching"))
            self._watcher.run()
        except LockedError as exc:
            self.post_message(EngineMode(f"viewer: {writer_name(exc.role, exc.pid)} writes"))
            if engine is not None:
                self._follow(engine)
        except Exception as exc:  # the workbench stays usable for queries; the header says why
            self.post_message(EngineMode(f"engine stopped: {first_line(exc)}"))
        finally:
            if engine is not None:
                engine.close()

    def _follow(self, engine: Any) -> None:
        """A viewer: what the writer commits and runs reaches the workbench as TableChanged and
        RunSeen events (the Follower emits them on the engine's bus), until the app closes."""
        from rat_tui.engine.watch import Follower

        follower = Follower(engine)
        while not self._stop_following.wait(FOLLOW_SECONDS):
            follower.poll()

    def _to_workbench(self, event: Any) -> None:
        self.workbench.post_message(EngineEvent(event))

    def _notice_writer(self) -> None:
        """A run was requested: the in-app watcher (if this app writes) takes it now."""
        if self._watcher is not None:
            self._watcher.notice("request", "run requested")

    @on(EngineMode)
    def _mode(self, message: EngineMode) -> None:
        self.mode = message.mode
        self.sub_title = message.mode
