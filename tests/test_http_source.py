"""The HTTP source: a real server on 127.0.0.1, pulls through the engine into landing/ and bronze,
pagination of each kind, the records path, retries, timeouts, empty pulls, a failing source in a
run, `rat watch` pulling when due, and the settings' validation."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import query, write
from fake_api import FakeApi, Reply, Request, paged

from rat_tui.engine import Engine
from rat_tui.engine.errors import WorkspaceError
from rat_tui.engine.events import Event, FileSkipped, SourceFailed, SourcePulled
from rat_tui.engine.sources import requester as http_requests
from rat_tui.engine.watch import Watcher
from rat_tui.engine.workspace import load_settings

TOKEN = "t0ken-for-the-tests-7f3a"
KEY = "k3y-for-the-tests-91bc"
ORDERS = [{"id": i, "amount": i * 1.5, "status": "paid"} for i in range(1, 6)]


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi(token=TOKEN, api_key=KEY).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", TOKEN)
    monkeypatch.setenv("ORDERS_KEY", KEY)
    monkeypatch.setattr(http_requests, "BACKOFF_SECONDS", 0.01)


def add_source(ws: Path, name: str, url: str, **spec: Any) -> None:
    """Append `[sources.<name>]` to rat.toml, with the test server's credentials by default."""
    spec.setdefault("headers", {"Authorization": "Bearer ${ORDERS_TOKEN}"})
    spec.setdefault("params", {"api_key": "${ORDERS_KEY}"})
    spec = {"type": "http", "url": url, **spec}
    with open(ws / "rat.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + tomli_w.dumps({"sources": {name: spec}}))


class Recorder:
    def __init__(self, engine: Engine) -> None:
        self.events: list[Event] = []
        engine.events.subscribe(self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def pulls(ws: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(ws / ".rat" / "state.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM source_pulls ORDER BY id")]
    finally:
        db.close()


def landed(ws: Path, name: str) -> list[Path]:
    """Every file in landing/<name>/, temporary ones included."""
    folder = ws / "landing" / name
    return sorted(folder.iterdir()) if folder.exists() else []


def test_pull_lands_one_ndjson_file_that_ingests_into_bronze_with_lineage(
    ws: Path, api: FakeApi, engine: Callable[[], Engine]
) -> None:
    api.route("/orders", paged(ORDERS, 2))
    add_source(
        ws,
        "orders_api",
        f"{api.base}/orders",
        params={"api_key": "${ORDERS_KEY}", "status": "all"},
        records="data",
        pagination={"type": "page"},
    )
    write(ws / "models" / "silver" / "orders.sql", "select id, amount from bronze.orders_api where status = 'paid'")
    e = engine()
    seen = Recorder(e)
    report = e.run()

    assert report.status == "ok", report
    assert report.pulled == {"orders_api": 5} and report.built == ["silver.orders"]
    files = landed(ws, "orders_api")
    assert len(files) == 1 and files[0].suffix == ".ndjson"  # one file per pull, no temporary left
    assert len(files[0].read_text().splitlines()) == 5
    rel = f"orders_api/{files[0].name}"
    rows = query(e, "select id, amount, _source_file, _batch_id from bronze.orders_api order by id")
    assert [(r[0], r[1], r[2]) for r in rows] == [(o["id"], o["amount"], rel) for o in ORDERS]
    assert all(r[3] for r in rows)
    # Pages 1, 2, 3 hold records, page 4 is empty and ends the pull; every request carried the
    # token, the api_key and the other params.
    assert [r.query["page"] for r in api.requests] == ["1", "2", "3", "4"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" and r.query["status"] == "all" for r in api.requests)
    [event] = seen.of(SourcePulled)
    assert (event.source, event.table, event.records, event.pages, event.file) == (
        "orders_api",
        "bronze.orders_api",
        5,
        4,
        rel,
    )
    [row] = pulls(ws)
    assert (row["source"], row["status"], row["records"], row["pages"], row["file"], row["error"]) == (
        "orders_api",
        "ok",
        5,
        4,
        rel,
        None,
    )
    assert row["run_id"] == report.run_id
    [source] = e.status().sources
    assert source.last_pull is not None and source.last_pull.records == 5 and source.url == f"{api.base}/orders"

    # The same answer pulled again lands a file with the same bytes: the ledger skips it.
    again = Recorder(e)
    second = e.run()
    assert second.pulled == {"orders_api": 5} and second.ingested == []
    assert [f.table for f in again.of(FileSkipped)] == ["bronze.orders_api"]
    assert query(e, "select count(*) from bronze.orders_api") == [(5,)]


def test_cursor_pagination_sends_the_cursor_from_a_dotted_path(
    ws: Path, api: FakeApi, engine: Callable[[], Engine]
) -> None:
    chain = {"": ("c2", ORDERS[:2]), "c2": ("c3", ORDERS[2:4]), "c3": (None, ORDERS[4:])}

    def cursor(request: Request) -> Reply:
        nxt, items = chain[request.query.get("after", "")]
        return Reply(200, {"result": {"items": items}, "meta": {"next": nxt}})

    api.route("/cursor", cursor)
    add_source(
        ws,
        "feed",
        f"{api.base}/cursor?kind=all",
        records="result.items",
        pagination={"type": "cursor", "param": "after", "path": "meta.next"},
    )
    e = engine()
    report = e.run()
    assert report.pulled == {"feed": 5}
    assert [r.query.get("after") for r in api.requests] == [None, "c2", "c3"]
    # The url's own query and the params both go with every page.
    assert all(r.query["kind"] == "all" and r.query["api_key"] == KEY for r in api.requests)
    assert query(e, "select count(distinct id) from bronze.feed") == [(5,)]


def test_link_pagination_from_the_body_or_the_link_header(ws: Path, api: FakeApi, engine: Callable[[], Engine]) -> None:
    def body_links(request: Request) -> Reply:
        offset = int(request.query.get("offset", "0"))
        nxt = f"/links?offset={offset + 2}" if offset + 2 < len(ORDERS) else None  # relative, as many APIs do
        return Reply(200, {"results": ORDERS[offset : offset + 2], "links": {"next": nxt}})

    def header_links(request: Request) -> Reply:
        page = int(request.query.get("p", "1"))
        link = {"Link": f'<{api.base}/gh?p={page + 1}>; rel="next"'} if page < 3 else {}
        return Reply(200, [{"n": page}], link)

    api.route("/links", body_links)
    api.route("/gh", header_links)
    add_source(ws, "linked", f"{api.base}/links", records="results", pagination={"type": "link", "path": "links.next"})
    add_source(ws, "github_like", f"{api.base}/gh", pagination={"type": "link"})
    e = engine()
    report = e.run()
    assert report.pulled == {"linked": 5, "github_like": 3}, report.sources_failed
    offsets = [r.query.get("offset") for r in api.requests if r.path == "/links"]
    assert offsets == [None, "2", "4"]
    # The configured params go with every page, the api_key included.
    assert all(r.query["api_key"] == KEY for r in api.requests)
    assert query(e, "select list(n order by n) from bronze.github_like") == [([1, 2, 3],)]


def test_a_next_link_to_another_host_is_refused(ws: Path, api: FakeApi, engine: Callable[[], Engine]) -> None:
    port = api.base.rsplit(":", 1)[1]
    api.route("/away", lambda r: Reply(200, {"data": ORDERS, "next": f"http://localhost:{port}/away?page=2"}))
    add_source(ws, "away", f"{api.base}/away", records="data", pagination={"type": "link", "path": "next"})
    report = engine().run()
    assert report.status == "failed" and "another host (localhost)" in report.sources_failed["away"]
    assert len(api.requests) == 1  # the token never went to the other host
    assert landed(ws, "away") == []  # a failed pull lands nothing, not even its first page


def test_records_path_the_whole_body_and_a_wrong_path(ws: Path, api: FakeApi, engine: Callable[[], Engine]) -> None:
    api.route("/list", lambda r: Reply(200, ORDERS))
    api.route("/wrapped", lambda r: Reply(200, {"items": ORDERS, "meta": {"count": 5}}))
    api.route("/scalars", lambda r: Reply(200, {"data": [1, 2]}))
    add_source(ws, "bare", f"{api.base}/list")
    add_source(ws, "wrong_path", f"{api.base}/wrapped", records="data.rows")
    add_source(ws, "no_path", f"{api.base}/wrapped")
    add_source(ws, "scalars", f"{api.base}/scalars", records="data")
    e = engine()
    report = e.run()
    assert report.pulled == {"bare": 5}
    failed = report.sources_failed
    assert "has no `data`" in failed["wrong_path"] and "keys: items, meta" in failed["wrong_path"]
    assert "records" in failed["wrong_path"]
    assert "the body is an object with keys: items, meta, not a list of records" in failed["no_path"]
    assert "must be JSON objects, but one is a number" in failed["scalars"]
    assert query(e, "select count(*) from bronze.bare") == [(5,)]
    for name in ("wrong_path", "no_path", "scalars"):
        assert landed(ws, name) == []


def test_retries_5xx_and_429_with_backoff_then_succeeds(ws: Path, api: FakeApi, engine: Callable[[], Engine]) -> None:
    replies = [Reply(500, {"error": "busy"}), Reply(429, {}, {"Retry-After": "0"}), Reply(502, b"<html>")]

    def flaky(request: Request) -> Reply:
        return replies.pop(0) if replies else Reply(200, {"data": ORDERS})

    api.route("/flaky", flaky)
    add_source(ws, "flaky", f"{api.base}/flaky", records="data", retries=3)
    report = engine().run()
    assert report.status == "ok" and report.pulled == {"flaky": 5}
    assert len(api.requests) == 4


def test_gives_up_after_its_retries_and_never_retries_a_4xx(
    ws: Path, api: FakeApi, engine: Callable[[], Engine]
) -> None:
    api.route("/down", lambda r: Reply(503, {"message": "maintenance until noon"}))
    api.route("/gone", lambda r: Reply(404, {"error": "no such collection"}))
    add_source(ws, "down", f"{api.base}/down", retries=2)
    add_source(ws, "gone", f"{api.base}/gone", retries=2)
    report = engine().run()
    down, gone = report.sources_failed["down"], report.sources_failed["gone"]
    assert down == (
        f"GET {api.base}/down failed: HTTP 503 Service Unavailable (server: maintenance until noon) (after 3 attempts)"
    )
    assert "HTTP 404 Not Found (server: no such collection); check sources.gone.url" in gone
    assert [r.path for r in api.requests].count("/down") == 3
    assert [r.path for r in api.requests].count("/gone") == 1


def test_a_response_slower_than_the_timeout_fails_the_pull(
    ws: Path, api: FakeApi, engine: Callable[[], Engine]
) -> None:
    api.route("/slow", lambda r: Reply(200, {"data": ORDERS}, delay=1.5))
    add_source(ws, "slow", f"{api.base}/slow", records="data", timeout=0.3, retries=1)
    started = time.monotonic()
    report = engine().run()
    assert time.monotonic() - started < 10
    assert "no response within 0.3s (sources.slow.timeout) (after 2 attempts)" in report.sources_failed["slow"]


def test_a_closed_port_fails_with_a_connection_error(ws: Path, engine: Callable[[], Engine]) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    add_source(ws, "closed", f"http://127.0.0.1:{port}/x", retries=0)
    report = engine().run()
    assert report.sources_failed["closed"].startswith(f"GET http://127.0.0.1:{port}/x failed: cannot connect (")
    assert report.sources_failed["closed"].endswith("; check that the API is up and sources.closed.url")


def test_an_empty_pull_writes_nothing(ws: Path, api: FakeApi, engine: Callable[[], Engine]) -> None:
    api.route("/none", lambda r: Reply(200, {"data": []}))
    api.route("/null", lambda r: Reply(200, {"data": None}))
    add_source(ws, "none", f"{api.base}/none", records="data")
    add_source(ws, "nulls", f"{api.base}/null", records="data", pagination={"type": "page"})
    e = engine()
    seen = Recorder(e)
    report = e.run()
    assert report.status == "noop" and report.pulled == {"none": 0, "nulls": 0}
    assert landed(ws, "none") == [] and landed(ws, "nulls") == []
    assert [(p["source"], p["status"], p["records"], p["file"]) for p in pulls(ws)] == [
        ("none", "empty", 0, None),
        ("nulls", "empty", 0, None),
    ]
    assert [(ev.records, ev.file) for ev in seen.of(SourcePulled)] == [(0, None), (0, None)]
    assert "bronze.none" not in {t.name for t in e.status().tables}


def test_a_failing_source_fails_the_run_but_stops_nothing_else(
    ws: Path, api: FakeApi, engine: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_KEY")
    api.api_key = None
    api.route("/orders", lambda r: Reply(200, {"data": ORDERS}))
    api.route("/boom", lambda r: Reply(500, {"error": "boom"}))
    add_source(ws, "broken", f"{api.base}/boom", retries=0, params={})
    add_source(ws, "unset", f"{api.base}/orders", params={"api_key": "${ORDERS_KEY}"})
    add_source(ws, "orders_api", f"{api.base}/orders", records="data", params={})
    write(ws / "landing" / "customers.csv", "id,name\n1,Ann\n")
    write(ws / "models" / "silver" / "orders.sql", "select id from bronze.orders_api")
    e = engine()
    seen = Recorder(e)
    report = e.run()
    assert report.status == "failed"
    assert set(report.sources_failed) == {"broken", "unset"} and report.pulled == {"orders_api": 5}
    assert report.sources_failed["unset"] == (
        "environment variable ORDERS_KEY is not set (sources.unset.params.api_key uses it); "
        "set it in the environment rat runs in"
    )
    assert sorted(report.ingested) == ["customers.csv", f"orders_api/{landed(ws, 'orders_api')[0].name}"]
    assert report.built == ["silver.orders"]
    assert [ev.source for ev in seen.of(SourceFailed)] == ["broken", "unset"]
    [run] = e.state.recent_runs(1)
    assert run.status == "failed" and run.error is not None
    assert "source broken: GET" in run.error and "source unset:" in run.error


def test_too_many_pages_stops_the_pull_and_lands_nothing(ws: Path, api: FakeApi, engine: Callable[[], Engine]) -> None:
    api.route("/endless", lambda r: Reply(200, {"data": ORDERS[:1]}))  # ignores the page parameter
    add_source(ws, "endless", f"{api.base}/endless", records="data", pagination={"type": "page", "max_pages": 3})
    report = engine().run()
    assert "stopped after 3 pages (sources.endless.pagination.max_pages)" in report.sources_failed["endless"]
    assert len(api.requests) == 3 and landed(ws, "endless") == []


def test_a_landing_folder_that_cannot_be_written_fails_the_pull_cleanly(
    ws: Path, api: FakeApi, engine: Callable[[], Engine]
) -> None:
    api.route("/orders", lambda r: Reply(200, {"data": ORDERS}))
    add_source(ws, "blocked", f"{api.base}/orders", records="data")
    write(ws / "landing" / "blocked", "a file where the source's folder should be\n")
    report = engine().run()
    assert report.sources_failed["blocked"].startswith(f"pulling {api.base}/orders failed: FileExistsError")


def test_watch_pulls_each_source_when_it_is_due(ws: Path, api: FakeApi) -> None:
    counter = {"n": 0}

    def fresh(request: Request) -> Reply:
        counter["n"] += 1
        return Reply(200, {"data": [{"id": counter["n"]}]})

    api.route("/fresh", fresh)
    api.route("/slowly", lambda r: Reply(200, {"data": [{"id": 1}]}))
    add_source(ws, "fast", f"{api.base}/fresh", records="data", every="1s")
    add_source(ws, "hourly", f"{api.base}/slowly", records="data", every="1h")
    engine = Engine.open(ws)
    seen = Recorder(engine)
    watcher = Watcher(engine)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            watcher.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end and len([p for p in seen.of(SourcePulled) if p.source == "fast"]) < 3:
            time.sleep(0.05)
        fast = [p for p in seen.of(SourcePulled) if p.source == "fast"]
        assert len(fast) >= 3 and not errors, (seen.events, errors)
        # Each pull landed and was ingested in the same run; the hourly source was pulled once.
        assert [p.source for p in seen.of(SourcePulled)].count("hourly") == 1
        # The third pull's event comes before the same run has ingested it: wait for its commit.
        counted = "select count(*), count(distinct _source_file) from bronze.fast"
        while time.monotonic() < end and query(engine, counted)[0][0] < 3:
            time.sleep(0.05)
        rows = query(engine, counted)[0]
        assert rows[0] >= 3 and rows[0] == rows[1]
    finally:
        watcher.stop()
        thread.join(timeout=30)
        engine.close()
    # A new watcher does not pull again what was pulled within its `every`.
    engine = Engine.open(ws)
    try:
        from rat_tui.engine.sources.pulling import due_sources

        assert "hourly" not in due_sources(engine.ws, engine.state)[0]
        later = datetime.now(UTC) + timedelta(hours=1, seconds=1)
        assert sorted(due_sources(engine.ws, engine.state, later)[0]) == ["fast", "hourly"]
    finally:
        engine.close()


BASE = 'type = "http"\nurl = "https://api.example.com/orders"\n'


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ('url = "https://x.example"', "sources.orders.type", 'must be "http"'),
        ('type = "ftp"\nurl = "https://x.example"', "sources.orders.type", 'must be "http"'),
        ('type = "http"', "sources.orders.url", "must be the URL to pull"),
        ('type = "http"\nurl = "api.example.com"', "sources.orders.url", "http:// or https://"),
        (BASE + 'headers = { Authorization = "Bearer ${TOKEN" }', "sources.orders.headers.Authorization", "malformed"),
        (BASE + "headers = { X-Count = 3 }", "sources.orders.headers.X-Count", "must be a string"),
        (BASE + "params = { q = [1] }", "sources.orders.params.q", "must be a string or a number"),
        (BASE + 'every = "soon"', "sources.orders.every", 'a duration like "30s"'),
        (BASE + 'every = "0s"', "sources.orders.every", "a duration"),
        (BASE + 'records = ".data"', "sources.orders.records", "dotted path"),
        (BASE + "timeout = 0", "sources.orders.timeout", "from 0 to 600"),
        (BASE + "retries = 11", "sources.orders.retries", "from 0 to 10"),
        (BASE + 'header = { A = "b" }', "sources.orders.header", "is not a source setting"),
        (
            BASE + 'pagination = { type = "scroll" }',
            "sources.orders.pagination.type",
            '"page", "offset", "cursor" or "link"',
        ),
        (BASE + 'pagination = { type = "cursor" }', "sources.orders.pagination.path", "next cursor"),
        (BASE + 'pagination = { type = "page", path = "x" }', "sources.orders.pagination.path", "not a setting"),
        (BASE + 'pagination = { type = "page", max_pages = 0 }', "sources.orders.pagination.max_pages", "from 1"),
    ],
)
def test_source_settings_are_validated_naming_the_key(tmp_path: Path, body: str, key: str, says: str) -> None:
    (tmp_path / "rat.toml").write_text(f"[sources.orders]\n{body}\n")
    with pytest.raises(WorkspaceError) as info:
        load_settings(tmp_path)
    message = str(info.value)
    assert f"`{key}`" in message and says in message and "\n" not in message


def test_a_source_name_must_name_a_bronze_table(tmp_path: Path) -> None:
    (tmp_path / "rat.toml").write_text(f"[sources.Orders-API]\n{BASE}")
    with pytest.raises(WorkspaceError, match=r"`sources.Orders-API` needs a name of lower-case letters"):
        load_settings(tmp_path)


def test_valid_source_settings_parse_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "rat.toml").write_text(
        "[sources.orders_api]\n"
        + BASE
        + 'headers = { Authorization = "Bearer ${ORDERS_TOKEN}" }\n'
        + 'params = { status = "all", limit = 100, deleted = false }\n'
        + 'records = "data"\nevery = "1h30m"\n'
        + '[sources.orders_api.pagination]\ntype = "cursor"\npath = "meta.next"\n'
    )
    source = load_settings(tmp_path).sources["orders_api"]
    assert source.headers == {"Authorization": "Bearer ${ORDERS_TOKEN}"}  # kept unresolved
    assert source.params == {"status": "all", "limit": "100", "deleted": "false"}
    assert (source.every, source.timeout, source.retries, source.table) == (5400.0, 30.0, 3, "bronze.orders_api")
    assert source.pagination is not None
    assert (source.pagination.type, source.pagination.param, source.pagination.max_pages) == ("cursor", "cursor", 1000)


def test_the_readme_example_is_a_valid_source(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Sources: pulling from an API", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "rat.toml").write_text(example)
    source = load_settings(tmp_path).sources["orders_api"]
    assert source.every == 900 and source.records == "data" and source.pagination is not None
