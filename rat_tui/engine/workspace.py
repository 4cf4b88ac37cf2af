"""The workspace: its folders, its rat.toml settings and the writer lock."""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rat_tui.engine import settings
from rat_tui.engine.errors import LockedError, WorkspaceError
from rat_tui.engine.landing_options import LandingOptions, parse_landing
from rat_tui.engine.sources.spec import Source, parse_sources

CONFIG_NAME = "rat.toml"
LAYERS = ("bronze", "silver", "gold")
MODEL_LAYERS = ("silver", "gold")


@dataclass(frozen=True)
class Settings:
    """What rat.toml says, with defaults filled in."""

    # The declared settings (engine/settings.py has their defaults, ranges and meaning).
    name: str
    memory_limit: str
    threads: int | None
    watch_polling: bool
    settle_seconds: float
    fetch_limit: int
    state_timeout: float
    serve_host: str = "127.0.0.1"
    serve_port: int = 8642
    serve_token: str | None = None  # "${VAR}": resolved when `rat serve` starts
    serve_max_queries: int = 4
    serve_max_sessions: int = 4
    serve_query_timeout: float = 300.0
    sources: dict[str, Source] = field(default_factory=dict)  # [sources.<name>], placeholders unresolved
    landing: dict[str, LandingOptions] = field(default_factory=dict)  # [landing.<folder>]: read options
    raw: dict = field(default_factory=dict)


def load_settings(root: Path) -> Settings:
    """Read and validate rat.toml; raise WorkspaceError naming the file and line."""
    path = root / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkspaceError(f"{path}: not found; create it with `rat init {root}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path}: cannot be read ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(
            f"{path}: invalid TOML: {exc}; fix the file and run again"  # tomllib's message has the line
        ) from None

    def bad(key: str, why: str) -> WorkspaceError:
        return WorkspaceError(f"{path}: setting `{key}` {why}")

    values = settings.read(raw, bad, root.name)
    return Settings(
        **values,
        sources=parse_sources(raw.get("sources"), bad),
        landing=parse_landing(raw.get("landing"), bad),
        raw=raw,
    )


class Workspace:
    """A folder holding rat.toml, landing/, models/, lake/ and .rat/."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.settings = load_settings(self.root)

    def reload(self) -> None:
        """Read rat.toml again; on an error the old settings stay and WorkspaceError says why."""
        self.settings = load_settings(self.root)

    # Folders the user owns.
    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    # Folders rat owns.
    @property
    def state_dir(self) -> Path:
        return self.root / ".rat"

    @property
    def quarantine(self) -> Path:
        return self.state_dir / "quarantine"

    @property
    def tmp(self) -> Path:
        return self.state_dir / "tmp"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.sqlite"

    def table_path(self, name: str) -> Path:
        layer, table = name.split(".", 1)
        return self.lake / layer / table

    def ensure_dirs(self) -> None:
        for path in (
            self.landing,
            self.models / "silver",
            self.models / "gold",
            self.lake,
            self.state_dir,
            self.tmp,
            self.logs,
        ):
            path.mkdir(parents=True, exist_ok=True)

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace at `start`, or the nearest folder upward holding rat.toml."""
        if start is not None:
            start = Path(start)
            if not start.is_dir():
                raise WorkspaceError(f"{start}: no such folder; create a workspace with `rat init {start}`")
            if not (start / CONFIG_NAME).is_file():
                raise WorkspaceError(
                    f"{start}: not a rat workspace (no {CONFIG_NAME}); create one with `rat init {start}`"
                )
            return cls(start)
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_NAME).is_file():
                return cls(folder)
        raise WorkspaceError(
            f"no {CONFIG_NAME} in {here} or any folder above it; pass -w DIR or create a workspace with `rat init DIR`"
        )


def _copy_tree(source, dest: Path) -> None:
    """Copy a package resource folder into dest, keeping files that already exist."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name in ("__pycache__", "__init__.py") or entry.name.endswith(".pyc"):
            continue
        target = dest / entry.name
        if entry.is_dir():
            _copy_tree(entry, target)
        elif not target.exists():
            with resources.as_file(entry) as src:
                shutil.copyfile(src, target)


def init_workspace(root: Path, demo: bool = False) -> Path:
    """Create a workspace from the template; with demo, add the sample data and models."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root}: exists and is not a folder; choose another path")
    if (root / CONFIG_NAME).exists():
        raise WorkspaceError(f"{root}: already a rat workspace ({CONFIG_NAME} exists); use it with `rat run -w {root}`")
    _copy_tree(resources.files("rat_tui.workspace_template"), root)
    # A wheel cannot carry empty folders, so the layout's folders are made here.
    for sub in ("landing", "models/silver", "models/gold"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    gitignore = root / "gitignore.template"
    if gitignore.exists():
        gitignore.replace(root / ".gitignore")
    if demo:
        sample = resources.files("rat_tui.sample_data")
        _copy_tree(sample / "landing", root / "landing")
        _copy_tree(sample / "models", root / "models")
    text = (root / CONFIG_NAME).read_text(encoding="utf-8")
    (root / CONFIG_NAME).write_text(
        text.replace('name = "my-lake"', f'name = "{_toml_str(root.resolve().name)}"'), encoding="utf-8"
    )
    return root


def _toml_str(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


# What each role of the writer lock is called in messages. The roles of SERVING_ROLES hold the lock
# until stopped and carry out the runs, rollbacks and vacuums other processes ask for; the others
# finish their one command and let go.
WRITER_NAMES = {
    "run": "another rat run",
    "rollback": "rat rollback",
    "vacuum": "rat vacuum",
    "watch": "rat watch",
    "workbench": "the workbench",
}
SERVING_ROLES = frozenset({"watch", "workbench"})


def writer_name(role: str, pid: int | None) -> str:
    """`rat watch (pid 12)`, `the workbench (pid 12)`, `another rat run (pid 12)`."""
    return f"{WRITER_NAMES.get(role, f'rat {role}')} (pid {pid if pid is not None else 'unknown'})"


def _locked_remedy(role: str, pid: int | None) -> str:
    # A watcher or the workbench never finishes: waiting for it is no advice.
    if role == "workbench":
        return "only one engine writes at a time: quit the workbench first (ctrl+q)"
    if role in SERVING_ROLES:
        how = f"Ctrl+C where it runs, or `kill {pid}`" if pid is not None else "Ctrl+C where it runs"
        return f"only one engine writes at a time: stop it first ({how})"
    return "wait for it to finish, then try again"


class WriterLock:
    """`.rat/lock`: one writing process per workspace (an flock, so a dead holder frees it)."""

    def __init__(self, workspace: Workspace, role: str = "run") -> None:
        self.path = workspace.state_dir / "lock"
        self.role = role  # a key of WRITER_NAMES: who writes, for the messages of those who cannot
        self._fd: int | None = None

    def holder(self) -> tuple[int | None, str]:
        """(pid, role) written by the process holding the lock, as far as the file says."""
        try:
            pid, _, role = self.path.read_text().strip().partition(" ")
            return int(pid), role or "run"
        except (OSError, ValueError):
            return None, "run"

    def _named_holder(self, timeout: float = 2.0) -> tuple[int | None, str]:
        """The holder once the file names it: a process that has just taken the lock writes its pid
        a moment later, so until then the file is empty or still names an earlier, gone holder."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            pid, role = self.holder()
            if pid is not None and pid_alive(pid):
                return pid, role
            if time.monotonic() >= deadline:
                return pid, role
            time.sleep(0.005)

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid, role = self._named_holder()
            raise LockedError(
                f"{self.path}: {writer_name(role, pid)} is writing to this workspace; {_locked_remedy(role, pid)}",
                pid,
                role,
            ) from None
        # A lock left by a dead process is free again (flock dies with its holder): take it over.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.role}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
