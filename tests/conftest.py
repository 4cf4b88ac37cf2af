"""Shared fixtures: real workspaces in tmp folders, the real `rat` executable, real DuckDB/Delta."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rat_tui.engine import Engine
from rat_tui.engine.workspace import init_workspace

RAT = str(Path(sys.executable).parent / "rat")


def run_rat(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed `rat` command as a user would; returns the completed process."""
    return subprocess.run([RAT, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """An empty workspace."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@pytest.fixture
def engine(ws: Path) -> Callable[[], Engine]:
    """A factory of engines on `ws` (a fresh one per call, like separate `rat` invocations)."""
    opened: list[Engine] = []

    def make() -> Engine:
        e = Engine.open(ws)
        opened.append(e)
        return e

    yield make
    for e in opened:
        e.close()


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Poll `predicate` until it is true; fail saying what was awaited after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """In a Pilot test: let the app run until `predicate` holds; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out waiting in the app")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace, built once per test module (rat init --demo, rat run)."""
    root = tmp_path_factory.mktemp("demo") / "demo"
    assert run_rat("init", str(root), "--demo").returncode == 0
    assert run_rat("run", "-w", str(root)).returncode == 0
    return root


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def query(e: Engine, sql: str) -> list[tuple]:
    session = e.query_session()
    try:
        rel = session.sql(sql)
        assert rel is not None
        return rel.fetchall()
    finally:
        session.close()


class Tmux:
    """A real terminal: `rat` (or any command) in a detached tmux session of a given size, typed
    into with send-keys and read with capture-pane."""

    def __init__(self, command: str, width: int, height: int, name: str = "rat-test") -> None:
        self.session = f"{name}-{int(time.time() * 1000)}"
        size = ["-x", str(width), "-y", str(height)]
        subprocess.run(["tmux", "new-session", "-d", "-s", self.session, *size, command], check=True)
        subprocess.run(["tmux", "resize-window", "-t", self.session, *size], check=False)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], check=False)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-t", self.session, "-p"], capture_output=True, text=True).stdout

    def until(self, what: str, timeout: float = 30) -> str:
        """The screen once it shows `what`; fail with the screen after `timeout` seconds."""
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = self.screen()
            if what in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{what!r} never showed:\n{text}")

    def keys(self, *names: str, literal: bool = False) -> None:
        """Key names (C-j, F3, Enter) or, `literal`, text as typed; then a person's pause (keys
        that arrive in one read may be taken as pasted text)."""
        flags = ["-l"] if literal else []
        subprocess.run(["tmux", "send-keys", "-t", self.session, *flags, "--", *names], check=True)
        time.sleep(0.4)


@pytest.fixture(scope="session", autouse=True)
def _template_and_demo_stay_as_shipped() -> Iterator[None]:
    """No test may write into workspace_template/ or sample_data/: `rat init` copies them into
    every new workspace (an engine opened on the template once left lake/ and .rat/ there)."""
    repo = Path(__file__).parent.parent

    def listing() -> set[Path]:
        return {
            p
            for d in ("workspace_template", "sample_data")
            for p in (repo / d).rglob("*")
            if "__pycache__" not in p.parts
        }

    before = listing()
    yield
    added = listing() - before
    assert not added, f"tests wrote into the shipped folders: {sorted(str(p.relative_to(repo)) for p in added)[:5]}"


def start_watch(root: Path) -> subprocess.Popen[str]:
    """A real `rat watch` on `root`, returned once it holds the writer's lock."""
    proc = subprocess.Popen([RAT, "watch", "-w", str(root)], stderr=subprocess.PIPE, text=True)
    lock = root / ".rat" / "lock"
    wait_until(lambda: lock.exists() and lock.read_text() == f"{proc.pid} watch", what="rat watch's lock")
    return proc


def stop_watch(proc: subprocess.Popen[str]) -> None:
    """SIGTERM: it exits 0, and said nothing that was a traceback."""
    proc.terminate()
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in err, err


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    """A GET of `url` is answered 200 (a server that is up)."""
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
