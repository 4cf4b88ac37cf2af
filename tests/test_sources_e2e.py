"""Done when, end to end: a REST API and a GraphQL API land incrementally in bronze and flow to
gold on their schedules, under a real `rat watch` process, with nothing lost or doubled and no
secret written anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import Api
from conftest import run_rat, start_watch, stop_watch, wait_until, write

REST = """
[sources.tickets]
type = "http"
url = "{base}/items"
records = "data"
primary_key = "id"
every = "1s"
headers = {{ "X-Api-Key" = "${{TICKETS_KEY}}" }}
[sources.tickets.pagination]
type = "cursor"
path = "next"
param = "page_token"
[sources.tickets.incremental]
cursor_field = "updated_at"
param = "since"
lookback = "10m"

[sources.issues]
type = "graphql"
url = "{base}/graphql"
query = '''query($since: String, $after: String) {{ items(since: $since, after: $after) {{ nodes {{ id updated_at value }} pageInfo {{ endCursor hasNextPage }} }} }}'''
records = "data.items.nodes"
primary_key = "id"
every = "1s"
pagination = {{ type = "cursor" }}
[sources.issues.incremental]
cursor_field = "updated_at"
param = "since"
"""

GOLD = """select (select count(distinct id) from bronze.tickets) as tickets,
       (select count(*) from bronze.issues) as issues"""


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api(page_size=40)
    yield server
    server.stop()


def gold(ws: Path) -> list[dict[str, int]]:
    done = run_rat("query", "-w", str(ws), "select * from gold.counts", "--format", "json")
    return json.loads(done.stdout) if done.returncode == 0 else []


def test_rest_and_graphql_flow_to_gold_under_rat_watch(ws: Path, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETS_KEY", "k3y-of-the-tickets-api")
    with open(ws / "rat.toml", "a", encoding="utf-8") as f:
        f.write(REST.format(base=api.base))
    write(ws / "models" / "gold" / "counts.sql", GOLD)
    for rid in range(100):
        api.put(rid, rid // 10)  # ten records on each cursor value
    watcher = start_watch(ws)
    try:
        wait_until(lambda: gold(ws) == [{"tickets": 100, "issues": 100}], timeout=60, what="gold from both APIs")
        for rid in range(100, 130):
            api.put(rid, 9)  # more on the newest value, the boundary
        api.put(3, 50, "updated")
        wait_until(lambda: gold(ws) == [{"tickets": 130, "issues": 131}], timeout=60, what="gold to follow the APIs")
    finally:
        stop_watch(watcher)
    status = run_rat("status", "-w", str(ws), "--json")
    sources = {s["name"]: s for s in json.loads(status.stdout)["sources"]}
    assert sources["tickets"]["cursor"] == sources["issues"]["cursor"] == "2024-01-01T00:00:50Z"
    for path in ws.rglob("*"):
        if path.is_file():
            assert b"k3y-of-the-tickets-api" not in path.read_bytes(), path
