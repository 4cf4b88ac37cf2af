"""Every shell, Python and systemd block in docs/ runs, as the docs say: in a folder holding the
built demo workspace `rat-demo`, with `rat serve -w rat-demo` answering (on a free port the blocks'
8642 is changed to)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RAT, answers, free_port, run_rat, wait_until

DOCS = Path(__file__).parent.parent / "docs"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks(page: str, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall((DOCS / page).read_text(encoding="utf-8")) if lang == language]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("docs")
    assert run_rat("init", str(root / "rat-demo"), "--demo").returncode == 0
    assert run_rat("run", "-w", str(root / "rat-demo")).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [RAT, "serve", "-w", "rat-demo", "--port", str(port)], cwd=root, stderr=subprocess.DEVNULL
    )
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/api/health"), timeout=30, what="rat serve")
    yield root, port
    server.terminate()
    server.wait(timeout=30)


def run_shell(page: str, root: Path, port: int) -> list[tuple[str, str]]:
    """Each command line of the page's sh blocks, run in `root` with `rat` on the PATH."""
    env = {**os.environ, "PATH": f"{Path(RAT).parent}{os.pathsep}{os.environ['PATH']}"}
    out = []
    for body in blocks(page, "sh"):
        for line in body.splitlines():
            command = line.split("  #", 1)[0].strip()
            if not command or command.startswith("#"):
                continue
            if command.startswith("rat serve "):  # the one the fixture runs, on its port
                assert command.rstrip(" &").split()[:3] == ["rat", "serve", "-w"], command
                continue
            command = command.replace("8642", str(port))
            done = subprocess.run(
                ["bash", "-c", command], cwd=root, capture_output=True, text=True, env=env, timeout=120
            )
            assert done.returncode == 0, (page, command, done.stderr)
            assert "Traceback" not in done.stderr
            out.append((command, done.stdout))
    return out


def run_python(page: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The page's Python blocks, in order, in one namespace; what they printed."""
    import contextlib
    import io

    monkeypatch.chdir(root)
    scope: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for n, body in enumerate(blocks(page, "python")):
            exec(compile(body, f"{page} block {n + 1}", "exec"), scope)
    return printed.getvalue()


def test_every_page_is_linked_and_every_block_has_a_runner() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    assert "docs/README.md" in readme
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "README.md":
            assert f"({page.name})" in index, page.name
        languages = {lang for lang, _ in BLOCK.findall(page.read_text(encoding="utf-8"))}
        assert languages <= {"sh", "python", "ini"}, (page.name, languages)


def test_the_python_api_page(site: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    printed = run_python("python-api.md", site[0], monkeypatch)
    assert "<rat lake" in printed and "gold.daily_revenue 182 0" in printed
    assert (
        "QueryError: Binder Error" in printed and "RatError: gold.daily_revenue has versions 0 to 0, not 99" in printed
    )


def test_the_delta_readers_page(site: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    printed = run_python("delta-readers.md", site[0], monkeypatch)
    assert "[(182,)]" in printed and "2470" in printed


def test_the_http_api_page(site: tuple[Path, int]) -> None:
    from rat_tui.serve.openapi import spec

    root, port = site
    outputs = dict(run_shell("http-api.md", root, port))
    text = "\n".join(outputs.values())
    assert '"status": "ok"' in text and "gold.daily_revenue 182" in text
    assert '"status": 403' in text and (root / "orders.parquet").stat().st_size > 1000
    page = (DOCS / "http-api.md").read_text(encoding="utf-8")
    described = spec()
    for path in described["paths"]:
        assert f"`{path.replace('{name}', '{name}')}" in page or f"{path}`" in page, path
    codes = {c for p in described["paths"].values() for op in p.values() for c in op["responses"] if c != "200"}
    for code in codes:
        assert f"| {code} |" in page, code


def test_the_backups_page(site: tuple[Path, int]) -> None:
    root, port = site
    outputs = run_shell("backups.md", root, port)
    assert (root / "rat-demo-restored" / "rat.toml").is_file()
    assert '"gold.daily_revenue": 0' in outputs[-1][1]


@pytest.mark.parametrize("unit", [0, 1])
def test_the_systemd_units_start_and_stop_on_sigterm(site: tuple[Path, int], unit: int) -> None:
    root, _ = site
    config = configparser.ConfigParser()
    config.read_string(blocks("service.md", "ini")[unit])
    port = free_port()
    command = (
        config["Service"]["ExecStart"]
        .replace("/opt/rat/bin/rat", RAT)
        .replace("/srv/rat/shop", str(root / "rat-demo"))
        .replace("8642", str(port))
    )
    assert config["Service"]["Restart"] == "on-failure" and config["Install"]["WantedBy"] == "multi-user.target"
    proc = subprocess.Popen(shlex.split(command), cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        if "serve" in command:
            wait_until(lambda: answers(f"http://127.0.0.1:{port}/api/health"), timeout=30, what="the unit's rat serve")
        else:
            lock = root / "rat-demo" / ".rat" / "lock"
            wait_until(
                lambda: lock.exists() and lock.read_text().startswith(str(proc.pid)), what="the unit's rat watch"
            )
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, proc.stderr.read() if proc.stderr else ""
