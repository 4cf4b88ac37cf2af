"""The workbench in a real browser: Debian's headless Chromium (driven by chromedriver) opens
`rat serve`'s /workbench/, the same app as in a terminal starts in it, a query typed there runs
(it lands in the workspace's query history) and a screenshot is taken."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import RAT, run_rat, wait_until

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER) and os.environ.get("CI") != "true":
    pytest.skip("no chromium and chromedriver (apt-get install chromium chromium-driver)", allow_module_level=True)


def test_the_browser_workbench_runs_a_query(tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert CHROMIUM and DRIVER, "CI=true needs chromium and chromium-driver (.ci/run installs them)"
    demo = tmp_path / "demo"
    assert run_rat("init", str(demo), "--demo").returncode == 0
    assert run_rat("run", "-w", str(demo)).returncode == 0
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([RAT, "serve", "-w", str(demo), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    browser = None
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=30, what="rat serve")
        browser = webdriver.Chrome(options=options, service=Service(DRIVER))
        browser.get(f"http://127.0.0.1:{port}/workbench/")
        # The app draws on a canvas (nothing to read in the page): wait for it on the workspace's
        # side, where the workbench's engine takes the writer's lock.
        lock = demo / ".rat" / "lock"
        wait_until(lambda: lock.exists() and lock.read_text().endswith(" workbench"), timeout=60, what="the workbench")
        time.sleep(1.5)
        terminal = browser.find_element(By.CSS_SELECTOR, "#terminal textarea, #terminal")
        chain = ActionChains(browser).click(terminal).send_keys("select 6 * 7 as answer")
        chain.key_down(Keys.CONTROL).send_keys("j").key_up(Keys.CONTROL).perform()

        def ran() -> bool:
            with sqlite3.connect(demo / ".rat" / "state.sqlite") as db:
                rows = db.execute("SELECT sql, rows FROM queries ORDER BY id DESC LIMIT 1").fetchall()
            return rows == [("select 6 * 7 as answer", 1)]

        wait_until(ran, timeout=30, what="the query typed in the browser to run")
        time.sleep(1)
        shot = tmp_path / "workbench.png"
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000  # a drawn screen
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        server.wait(timeout=30)
