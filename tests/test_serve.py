"""`rat serve` for real: the server as a process on 127.0.0.1, asked over HTTP with httpx: tables,
rows at a version, queries streamed in every format, reads only, timeouts, capacity, the token,
the status page, the OpenAPI description and the workbench's page and websocket."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from conftest import RAT, answers, free_port, run_rat, wait_until, write

TOKEN = "s3rve-token-for-the-tests-5d1e"


class Served:
    """A `rat serve` process and a client for it."""

    def __init__(self, root: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [RAT, "serve", "-w", str(root), "--port", str(self.port), *extra],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        wait_until(self._up, timeout=30, what="rat serve to answer")

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
        return answers(f"{self.base}/api/health")

    def query(self, sql: str, **fields: object) -> httpx.Response:
        return httpx.post(f"{self.base}/api/query", json={"sql": sql, **fields}, timeout=60)

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return self.proc.stderr.read() if self.proc.stderr else ""


@contextmanager
def serving_with(shop: Path, setting: str, value: int) -> Iterator[Served]:
    """A server on `shop` with one `[serve]` setting of rat.toml changed; the file put back after."""
    toml = shop / "rat.toml"
    original = toml.read_text(encoding="utf-8")
    toml.write_text(original.replace(f"# {setting} = 4", f"{setting} = {value}"), encoding="utf-8")
    served = Served(shop)
    try:
        yield served
    finally:
        served.stop()
        toml.write_text(original, encoding="utf-8")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve") / "shop"
    assert run_rat("init", str(root)).returncode == 0
    write(root / "landing" / "orders" / "1.csv", "id,amount,day\n1,10.5,2024-01-01\n2,20,2024-01-02\n3,,2024-01-03\n")
    write(root / "models" / "silver" / "orders.sql", "select id, amount, cast(day as date) as day from bronze.orders")
    write(
        root / "models" / "gold" / "checked.sql",
        '/* rat\n[checks]\nexpression = ["id > 1"]\n*/\nselect id from silver.orders',
    )
    run_rat("run", "-w", str(root))  # gold.checked fails its check: nothing of it is published
    write(root / "landing" / "orders" / "2.csv", "id,amount,day\n4,40,2024-01-04\n")
    run_rat("run", "-w", str(root))
    return root


@pytest.fixture(scope="module")
def server(shop: Path) -> Iterator[Served]:
    served = Served(shop)
    yield served
    log = served.stop()
    assert "Traceback" not in log, log


def test_tables_and_rows_at_a_version(server: Served) -> None:
    tables = {t["name"]: t for t in httpx.get(f"{server.base}/api/tables").json()["tables"]}
    assert set(tables) == {"bronze.orders", "silver.orders"}
    orders = tables["silver.orders"]
    assert (orders["layer"], orders["kind"], orders["rows"], orders["version"]) == ("silver", "table", 4, 1)
    assert orders["columns"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "amount", "type": "DOUBLE"},
        {"name": "day", "type": "DATE"},
    ]
    rows = httpx.get(f"{server.base}/api/tables/silver.orders", params={"limit": 2, "offset": 1}).json()
    assert len(rows) == 2 and {r["id"] for r in rows} <= {1, 2, 3, 4}
    old = httpx.get(f"{server.base}/api/tables/silver.orders", params={"version": 0}).json()
    assert sorted(r["id"] for r in old) == [1, 2, 3]  # time travel
    missing = httpx.get(f"{server.base}/api/tables/silver.orders", params={"version": 9})
    assert missing.status_code == 404 and missing.json()["error"] == "silver.orders has versions 0 to 1, not 9"
    assert httpx.get(f"{server.base}/api/tables/nope").status_code == 404
    bad = httpx.get(f"{server.base}/api/tables/silver.orders", params={"limit": "many"})
    assert bad.status_code == 400 and "limit must be an integer" in bad.json()["error"]


def test_a_query_in_every_format(server: Served) -> None:
    sql = "select id, amount, day from silver.orders order by id"
    as_json = server.query(sql)
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == [
        {"id": 1, "amount": 10.5, "day": "2024-01-01"},
        {"id": 2, "amount": 20.0, "day": "2024-01-02"},
        {"id": 3, "amount": None, "day": "2024-01-03"},
        {"id": 4, "amount": 40.0, "day": "2024-01-04"},
    ]
    lines = server.query(sql, format="ndjson").text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4]
    csv = server.query(sql, format="csv").text.splitlines()
    assert csv[0] == '"id","amount","day"' and csv[1] == "1,10.5,2024-01-01" and len(csv) == 5
    arrow = pyarrow.ipc.open_stream(server.query(sql, format="arrow").content).read_all()
    assert arrow.column("id").to_pylist() == [1, 2, 3, 4]
    parquet = pq.read_table(io.BytesIO(server.query(sql, format="parquet").content))
    assert parquet.column("amount").to_pylist() == [10.5, 20.0, None, 40.0]
    assert server.query(sql, limit=2).json()[-1]["id"] == 2
    empty = server.query("select id from silver.orders where false", format="csv")
    assert empty.status_code == 200 and empty.text.strip() == '"id"'
    assert server.query("select 1 as x where false").json() == []
    assert server.query(sql, format="xml").status_code == 400


def test_a_big_result_streams_whole(server: Served) -> None:
    """Two million rows as NDJSON, read as they come: every row arrives, in order."""
    count = 0
    last = -1
    with httpx.stream(
        "POST", f"{server.base}/api/query", json={"sql": "select range as i from range(2000000)", "format": "ndjson"}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            last = json.loads(line)["i"]
            count += 1
    assert (count, last) == (2_000_000, 1_999_999)
    # A client that leaves halfway frees its query: the server goes on answering.
    with httpx.stream("POST", f"{server.base}/api/query", json={"sql": "select range from range(50000000)"}) as r:
        next(r.iter_bytes())
    assert server.query("select 42 as x").json() == [{"x": 42}]


@pytest.mark.parametrize(
    "sql",
    [
        "create table silver.x as select 1",
        "insert into silver.orders values (9, 9, null)",
        "delete from silver.orders",
        "copy (select 1) to 'out.csv'",
        "attach 'other.db'",
        "install httpfs",
        "load httpfs",
        "pragma version",
        "set threads = 1",
        "call pragma_version()",
        "select 1; select 2",
    ],
)
def test_anything_but_a_read_is_refused(server: Served, sql: str) -> None:
    answer = server.query(sql)
    assert answer.status_code == 403, answer.text
    assert answer.json()["status"] == 403 and answer.json()["error"]


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('/etc/passwd')",
        "select * from read_text('/etc/hostname')",
        "select * from glob('/etc/*')",
        "select * from read_parquet('../*.parquet')",
    ],
)
def test_files_outside_the_lake_are_refused(server: Served, sql: str) -> None:
    answer = server.query(sql)
    assert answer.status_code == 403, answer.text
    assert "rat serve reads the lake only" in answer.json()["error"]


def test_bad_queries_and_timeouts(server: Served) -> None:
    bad = server.query("select nope from silver.orders")
    assert bad.status_code == 400 and 'column "nope"' in bad.json()["error"]
    assert server.query("selec 1").status_code == 400
    slow = server.query("select count(*) from range(100000000000)", timeout_s=0.5)
    assert slow.status_code == 408 and "timeout of 0.5s" in slow.json()["error"]
    assert server.query("select 1", nope=1).status_code == 400
    assert server.query("select 1", limit=-1).status_code == 400
    raw = httpx.post(f"{server.base}/api/query", content=b"not json")
    assert raw.status_code == 400 and "must be JSON" in raw.json()["error"]


def test_over_capacity_is_503(shop: Path) -> None:
    with serving_with(shop, "max_queries", 1) as served:
        slow: dict[str, httpx.Response] = {}
        thread = threading.Thread(
            target=lambda: slow.update(r=served.query("select count(*) from range(100000000000)", timeout_s=4))
        )
        thread.start()
        time.sleep(0.5)  # its request is in first
        busy = None
        deadline = time.monotonic() + 3  # the slow query runs for 4 seconds
        while time.monotonic() < deadline:
            busy = served.query("select 1")
            if busy.status_code == 503:
                break
            time.sleep(0.02)
        assert busy is not None and busy.status_code == 503 and "1 queries are running" in busy.json()["error"]
        thread.join()
        assert slow["r"].status_code == 408
        assert served.query("select 1").status_code == 200  # the slot is free again


def test_a_token_is_required_off_loopback_and_then_of_every_request(shop: Path) -> None:
    refused = subprocess.run([RAT, "serve", "-w", str(shop), "--host", "0.0.0.0"], capture_output=True, text=True)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "without a token" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    unset = subprocess.run(
        [RAT, "serve", "-w", str(shop), "--token-env", "RAT_NO_SUCH_VAR"], capture_output=True, text=True
    )
    assert unset.returncode != 0 and "RAT_NO_SUCH_VAR" in unset.stderr

    served = Served(shop, "--host", "0.0.0.0", "--token-env", "RAT_TEST_TOKEN", env={"RAT_TEST_TOKEN": TOKEN})
    try:
        url = f"{served.base}/api/tables"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert httpx.post(f"{served.base}/api/query", json={"sql": "select 1"}).status_code == 401
        assert httpx.get(f"{served.base}/").status_code == 401
        page = httpx.get(f"{served.base}/", params={"token": TOKEN})  # a browser: the token once, then a cookie
        assert page.status_code == 200 and "rat_token" in page.headers.get("set-cookie", "")
        assert httpx.get(f"{served.base}/", cookies={"rat_token": TOKEN}).status_code == 200
        assert httpx.get(f"{served.base}/api/health").status_code == 200  # the health check needs none
    finally:
        log = served.stop()
    assert TOKEN not in log and "GET / 200" in log  # logged, the token never


def test_the_status_page_shows_tables_and_what_needs_attention(server: Served) -> None:
    page = httpx.get(f"{server.base}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "silver.orders" in html and "Needs attention" in html
    assert "gold.checked: check_failed" in html and "id &gt; 1" in html


def test_openapi_describes_every_route(ws: Path) -> None:
    from rat_tui.engine.workspace import Workspace
    from rat_tui.serve.app import make_app
    from rat_tui.serve.openapi import spec

    described = spec()
    assert described["openapi"].startswith("3.1")
    paths = described["paths"]
    app = make_app(Workspace(ws), None, workbench=False)
    routes = {
        (r.resource.canonical, r.method.lower())
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api") and r.method != "HEAD"
    }
    assert routes == {(path, method) for path, methods in paths.items() for method in methods}


def test_openapi_is_served(server: Served) -> None:
    assert httpx.get(f"{server.base}/api/openapi.json").json()["info"]["title"] == "rat serve"


async def test_the_workbench_page_and_its_websocket_run_the_app(server: Served) -> None:
    import aiohttp

    page = httpx.get(f"{server.base}/workbench", follow_redirects=True)
    assert page.status_code == 200 and f"ws://127.0.0.1:{server.port}/workbench/ws" in page.text
    assert httpx.get(f"{server.base}/workbench/static/js/textual.js").status_code == 200
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{server.port}/workbench/ws?width=100&height=30") as ws:
            screen = b""
            while b"silver" not in screen:  # the lake tree, drawn by the real app
                message = await ws.receive(timeout=60)
                assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
                if message.type == aiohttp.WSMsgType.BINARY:
                    screen += message.data
            await ws.close()


def test_arrow_batches_are_whole_record_batches(server: Served) -> None:
    stream = pyarrow.ipc.open_stream(server.query("select range as i from range(100000)", format="arrow").content)
    table = stream.read_all()
    assert table.num_rows == 100_000 and table.schema.field("i").type == pa.int64()


def test_a_query_cut_midway_ends_the_stream_without_its_last_chunk(server: Served) -> None:
    """Rows were sent with 200 before the query ran past its timeout (a slow reader holds it back):
    the answer ends without its last chunk, so the client sees an incomplete transfer, never a
    short result that looks whole."""
    body = {"sql": "select range as i from range(100000000)", "format": "ndjson", "timeout_s": 1}
    with httpx.stream("POST", f"{server.base}/api/query", json=body, timeout=60) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete"):
            for _ in response.iter_raw():
                time.sleep(0.05)  # slower than DuckDB: backpressure keeps the query running
    assert server.query("select 42 as x").json() == [{"x": 42}]


def test_csv_writes_zoned_timestamps_as_duckdb_does(server: Served) -> None:
    """bronze's _ingested_at has a time zone: written by DuckDB as text (pyarrow's own formatting
    of it is twenty times slower than the rest of a row)."""
    lines = httpx.get(f"{server.base}/api/tables/bronze.orders", params={"format": "csv", "limit": 1}).text.splitlines()
    header = lines[0].split(",")
    stamp = lines[1].split(",")[header.index('"_ingested_at"')]
    assert re.fullmatch(r'"?20\d\d-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00"?', stamp), stamp
    zone = server.query("select timestamptz '2024-01-31 10:00:00+00' as t", format="csv").text.splitlines()
    assert zone[1].strip('"') == "2024-01-31 10:00:00+00"


async def test_browser_sessions_over_the_cap_are_503(shop: Path) -> None:
    import aiohttp

    with serving_with(shop, "max_sessions", 1) as served:
        url = f"ws://127.0.0.1:{served.port}/workbench/ws?width=80&height=24"
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as first:
                await first.receive(timeout=60)  # the first session's app is running
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(url)
                assert refused.value.status == 503
            # The first one closed: its place is free again (once the server has seen it go).
            again = None
            for _ in range(50):
                try:
                    again = await session.ws_connect(url)
                    break
                except aiohttp.WSServerHandshakeError:
                    await asyncio.sleep(0.1)
            assert again is not None
            assert (await again.receive(timeout=60)).type == aiohttp.WSMsgType.BINARY
            await again.close()


def test_a_port_already_taken_is_one_line(server: Served, shop: Path) -> None:
    taken = subprocess.run([RAT, "serve", "-w", str(shop), "--port", str(server.port)], capture_output=True, text=True)
    assert taken.returncode == 1 and "Traceback" not in taken.stderr and "internal error" not in taken.stderr
    last = taken.stderr.strip().splitlines()[-1]
    assert f"cannot listen on 127.0.0.1:{server.port}" in last and "another --port" in last
