"""Drive the browser workbench in Debian's headless Chromium (chromedriver, selenium)."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from conftest import wait_until

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def last_query(state_db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(state_db) as db:
        return db.execute("SELECT sql, rows FROM queries ORDER BY id DESC LIMIT 1").fetchall()


def query_in_browser(
    url: str, state_db: Path, started: Callable[[], bool], screenshot: Path, settle: float = 1.5
) -> None:
    """Open the workbench at `url`, wait for `started`, type a query and ctrl+j; return once the
    workspace's query history has it, with a screenshot of the page saved."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert CHROMIUM and DRIVER, "needs chromium and chromium-driver (.ci/run installs them)"
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    browser = webdriver.Chrome(options=options, service=Service(DRIVER))
    try:
        browser.get(url)
        wait_until(started, timeout=90, what="the workbench to start in the browser")
        time.sleep(settle)  # its first screen drawn
        terminal = browser.find_element(By.CSS_SELECTOR, "#terminal textarea, #terminal")
        chain = ActionChains(browser).click(terminal).send_keys("select 6 * 7 as answer")
        chain.key_down(Keys.CONTROL).send_keys("j").key_up(Keys.CONTROL).perform()
        wait_until(lambda: last_query(state_db) == [("select 6 * 7 as answer", 1)], timeout=30, what="the query to run")
        time.sleep(1)
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    finally:
        browser.quit()
