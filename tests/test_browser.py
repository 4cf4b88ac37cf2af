"""The workbench in a real browser: Debian's headless Chromium (driven by chromedriver) opens
`rat serve`'s /workbench/, the same app as in a terminal starts in it, a query typed there runs
(it lands in the workspace's query history) and a screenshot is taken."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from browser import CHROMIUM, DRIVER, query_in_browser
from conftest import RAT, answers, free_port, run_rat, wait_until

if not (CHROMIUM and DRIVER) and os.environ.get("CI") != "true":
    pytest.skip("no chromium and chromedriver (apt-get install chromium chromium-driver)", allow_module_level=True)


def test_the_browser_workbench_runs_a_query(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert run_rat("init", str(demo), "--demo").returncode == 0
    assert run_rat("run", "-w", str(demo)).returncode == 0
    port = free_port()
    server = subprocess.Popen([RAT, "serve", "-w", str(demo), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/api/health"), timeout=30, what="rat serve")
        # The app draws on a canvas (nothing to read in the page): it has started once its
        # engine holds the workspace's writer lock.
        lock = demo / ".rat" / "lock"
        query_in_browser(
            f"http://127.0.0.1:{port}/workbench/",
            demo / ".rat" / "state.sqlite",
            lambda: lock.exists() and lock.read_text().endswith(" workbench"),
            tmp_path / "workbench.png",
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
