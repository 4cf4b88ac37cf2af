"""The workbench's sources screen (f11), in-process with Pilot, against a real API on 127.0.0.1:
each source's last pull, records, cursor and next pull; `p` has the app's own watcher pull it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import Api, stamp
from conftest import wait_for
from textual.widgets import DataTable, Static

from rat_tui.app import RatApp
from rat_tui.screens.sources import SourcesScreen


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api(page_size=100)
    yield server
    server.stop()


def cells(screen: SourcesScreen) -> list[str]:
    grid = screen.query_one("#sources-grid", DataTable)
    return [str(c) for c in grid.get_row_at(0)] if grid.row_count else []


async def test_the_sources_screen_shows_each_pull_and_p_pulls_again(ws: Path, api: Api) -> None:
    with open(ws / "rat.toml", "a", encoding="utf-8") as f:
        f.write(
            f'\n[sources.items]\ntype = "http"\nurl = "{api.base}/items"\nrecords = "data"\nschedule = "0 * * * *"\n'
            '[sources.items.pagination]\ntype = "cursor"\npath = "next"\nparam = "page_token"\n'
            '[sources.items.incremental]\ncursor_field = "updated_at"\nparam = "since"\n'
        )
    for rid in range(150):
        api.put(rid, rid)
    app = RatApp(ws, watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f11")
        await wait_for(pilot, lambda: isinstance(app.screen, SourcesScreen))
        screen = app.screen
        assert isinstance(screen, SourcesScreen)
        # The watcher pulls the never-pulled source on start; the screen reads it again every 2 s.
        await wait_for(pilot, lambda: cells(screen)[4:7] == ["ok", "150", stamp(149)], timeout=30)
        row = cells(screen)
        assert row[:3] == ["items", "http", "schedule 0 * * * *"] and row[7].endswith(":00:00")
        detail = str(screen.query_one("#source-detail", Static).render())
        assert f"items: http {api.base}/items -> bronze.items" in detail and "p pulls it now" in detail
        api.put(500, 500)
        asked = len(api.requests)
        await pilot.press("p")
        await wait_for(pilot, lambda: cells(screen)[5:7] == ["1", stamp(500)], timeout=30)
        assert len(api.requests) > asked
