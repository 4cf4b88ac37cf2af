"""Incremental API sources against a real, misbehaving API on 127.0.0.1 (tests/api_server.py):
after every scenario, bronze merged by primary key equals the API's records, with 0 lost and
0 duplicated, and the state committed with the rows stays a few hundred bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from api_server import Api, stamp
from conftest import RAT, run_rat

from rat_tui.engine import Engine
from rat_tui.engine.sources import requester
from rat_tui.engine.sources.cursor import STATE_KEY, stored_state

REST = """
[sources.items]
type = "http"
url = "{base}/items"
records = "data"
primary_key = "id"
[sources.items.pagination]
type = "cursor"
path = "next"
param = "page_token"
[sources.items.incremental]
cursor_field = "updated_at"
param = "since"
lookback = "{lookback}"
"""


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api(page_size=100)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requester, "BACKOFF_SECONDS", 0.01)


def configure(ws: Path, text: str) -> None:
    with open(ws / "rat.toml", "a", encoding="utf-8") as f:
        f.write(text)


def pull(ws: Path, full: bool = False) -> dict[str, object]:
    e = Engine.open(ws)
    try:
        report = e.run([], files=set(), sources=["items"], full_pull=full)
    finally:
        e.close()
    return {"pulled": report.pulled.get("items"), "failed": report.sources_failed, "ingested": report.ingested}


def bronze(ws: Path) -> pl.DataFrame:
    return pl.read_delta(str(ws / "lake" / "bronze" / "items"))


def assert_equals_the_api(ws: Path, api: Api) -> None:
    rows = bronze(ws)
    assert rows["_record_hash"].n_unique() == rows.height, "a record landed twice"
    assert rows.select("id", "updated_at", "value").n_unique() == rows.height, "a record landed twice"
    latest = rows.sort("updated_at").group_by("id").last()
    merged = {r["id"]: (r["updated_at"], r["value"]) for r in latest.iter_rows(named=True)}
    wanted = {r["id"]: (r["updated_at"], r["value"]) for r in api.records.values()}
    lost = {k: v for k, v in wanted.items() if merged.get(k) != v}
    assert not lost, f"{len(lost)} records lost or stale, e.g. {list(lost.items())[:3]}"
    assert set(merged) == set(wanted)


def state_bytes(ws: Path) -> int:
    from deltalake import DeltaTable

    return max(len(h.get(STATE_KEY, "")) for h in DeltaTable(str(ws / "lake" / "bronze" / "items")).history())


def test_a_thousand_records_on_one_cursor_value_across_pages_land_once(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    for rid in range(1000):
        api.put(rid, 100)
    assert pull(ws)["pulled"] == 1000
    assert stored_state(ws / "lake" / "bronze" / "items")["cursor"] == stamp(100)  # type: ignore[index]
    # More on the very same value (the boundary), and later ones.
    for rid in range(1000, 1005):
        api.put(rid, 100)
    for rid in range(1005, 1010):
        api.put(rid, 200)
    before = len(api.requests)
    assert pull(ws)["pulled"] == 10  # 1,010 asked for (>= the last value), the 1,000 landed dropped
    assert len(api.requests) - before == 11  # 1,010 records at 100 a page
    assert api.requests[before][1]["since"] == stamp(100)
    assert pull(ws)["pulled"] == 0  # nothing new: nothing landed, no commit
    assert_equals_the_api(ws, api)
    assert state_bytes(ws) < 300  # a few hundred bytes, however many records tie


def test_late_updates_inside_the_lookback_are_read_again(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="2h"))
    for rid in range(50):
        api.put(rid, rid * 60)
    assert pull(ws)["pulled"] == 50
    # Committed late upstream: updated_at older than the last value, inside the two hours.
    api.put(7, 49 * 60 - 1800, "late")
    api.put(50, 49 * 60 - 3000)
    result = pull(ws)
    assert result["pulled"] == 2  # the window's other records are in bronze already: dropped
    assert_equals_the_api(ws, api)


def test_records_changed_while_a_pull_runs_are_not_lost(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="1h"))
    for rid in range(300):
        api.put(rid, rid)

    def meanwhile(page: int) -> None:
        if page == 3:
            api.put(0, time.time() - 1704067200 + 1, "moved")  # updated after the pull began
            api.put(1000, 50, "late commit")  # an older cursor value than the pages already read

    api.on_page = meanwhile
    first = pull(ws)
    api.on_page = None
    assert first["pulled"] == 300  # record 0's new version is newer than the pull's start: held back
    time.sleep(1.5)
    second = pull(ws)
    assert second["pulled"] == 2  # its new version, and the late commit inside the lookback
    assert_equals_the_api(ws, api)


def test_full_reads_everything_again_and_lands_only_what_bronze_lacks(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    for rid in range(120):
        api.put(rid, rid)
    assert pull(ws)["pulled"] == 120
    api.put(500, 3, "committed very late")  # older than the last value and past any lookback
    assert pull(ws)["pulled"] == 0
    assert pull(ws, full=True)["pulled"] == 1
    assert_equals_the_api(ws, api)


def test_429_with_retry_after_then_500_then_success(ws: Path, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    for rid in range(10):
        api.put(rid, rid)
    api.fail_first = [(429, {"Retry-After": "1"}), (500, {})]
    assert pull(ws)["pulled"] == 10
    assert api.times[1] - api.times[0] >= 0.95  # Retry-After honoured
    assert_equals_the_api(ws, api)


def test_a_repeating_cursor_fails_instead_of_looping(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    for rid in range(250):
        api.put(rid, rid)
    real = api.page
    api.page = lambda since, token: (real(since, None)[0], "same-token")  # type: ignore[method-assign]
    result = pull(ws)
    assert "sent a cursor again" in str(result["failed"]["items"])  # type: ignore[index]
    assert not (ws / "lake" / "bronze" / "items").exists()


GRAPHQL = """
[sources.items]
type = "graphql"
url = "{base}/graphql"
query = '''
query Items($since: String, $after: String) {{
  items(since: $since, after: $after) {{ nodes {{ id updated_at value }} pageInfo {{ endCursor hasNextPage }} }}
}}
'''
records = "data.items.nodes"
primary_key = "id"
pagination = {{ type = "cursor" }}
[sources.items.incremental]
cursor_field = "updated_at"
param = "since"
"""


def test_graphql_relay_pages_and_the_cursor_as_a_variable(ws: Path, api: Api) -> None:
    configure(ws, GRAPHQL.format(base=api.base))
    for rid in range(250):
        api.put(rid, rid)
    assert pull(ws)["pulled"] == 250
    assert [args.get("after") for _, args in api.requests] == [None, f"{stamp(99)}|99", f"{stamp(199)}|199"]
    api.put(300, 400)
    assert pull(ws)["pulled"] == 1
    assert api.requests[-1][1]["since"] == stamp(249)
    assert_equals_the_api(ws, api)


def test_graphql_errors_under_http_200_fail_the_pull_and_land_nothing(ws: Path, api: Api) -> None:
    configure(ws, GRAPHQL.format(base=api.base))
    api.put(1, 1)
    api.graphql_errors = True
    done = run_rat("pull", "-w", str(ws))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "FAILED source items" in done.stderr and "rate limited by resolver" in done.stderr
    assert not list((ws / "landing").rglob("*.ndjson"))


OAUTH = """
[sources.items.auth]
type = "oauth2_client_credentials"
token_url = "{base}/token"
client_id = "rat-client"
client_secret = "${{ITEMS_SECRET}}"
"""


def test_an_oauth_token_that_expires_mid_pull_is_fetched_again(
    ws: Path, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s") + OAUTH.format(base=api.base))
    monkeypatch.setenv("ITEMS_SECRET", api.client[1])
    api.token_life = 3  # a token is good for three requests
    for rid in range(1000):
        api.put(rid, rid)
    assert pull(ws)["pulled"] == 1000
    assert api.issued >= 4
    assert_equals_the_api(ws, api)
    status = run_rat("status", "-w", str(ws))
    assert f"cursor {stamp(999)}" in status.stdout
    for path in ws.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert api.client[1].encode() not in data and b"tok-1" not in data, path


def test_a_pull_that_stops_after_one_page_while_the_api_has_more_is_a_warning(ws: Path, api: Api) -> None:
    configure(ws, f'\n[sources.items]\ntype = "http"\nurl = "{api.base}/items"\nrecords = "data"\n')
    for rid in range(150):
        api.put(rid, rid)
    done = run_rat("pull", "-w", str(ws), "items")
    assert done.returncode == 0
    assert "warning items: sources.items: the pull stopped after one page" in done.stderr, done.stderr
    assert "`next` in the body" in done.stderr


def test_rat_pull_names_an_unknown_source(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    done = run_rat("pull", "-w", str(ws), "nope")
    assert done.returncode == 1 and "no source nope" in done.stderr and "its sources: items" in done.stderr
    assert "Traceback" not in done.stderr


LAUNCHER = """
import os, signal, sys
from rat_tui.engine import lake
from rat_tui.engine.sources import http, requester

phase = os.environ["KILL_AT"]
def die():
    os.kill(os.getpid(), signal.SIGKILL)
if phase == "mid-pull":
    send = requester.Requester.send
    def send_then_die(self, *a, **k):
        if self.requests == 2:
            die()
        return send(self, *a, **k)
    requester.Requester.send = send_then_die
if phase == "landed":
    replace = http.os.replace
    def replace_then_die(a, b):
        replace(a, b)
        if str(b).endswith(".ndjson"):
            die()
    http.os.replace = replace_then_die
if phase in ("staged", "committed"):
    publish = lake.publish
    def publish_and_die(*a, **k):
        if phase == "staged":
            die()
        out = publish(*a, **k)
        die()
    lake.publish = publish_and_die
from rat_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("phase", ["mid-pull", "landed", "staged", "committed"])
def test_kill_9_at_every_phase_of_a_pull_loses_and_doubles_nothing(ws: Path, api: Api, phase: str) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    for rid in range(400):
        api.put(rid, rid // 3)  # ties across pages too
    assert pull(ws)["pulled"] == 400
    for rid in range(400, 700):
        api.put(rid, 200 + rid // 3)
    api.put(3, 500, "updated")
    env = {**os.environ, "KILL_AT": phase}
    killed = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "pull", "-w", str(ws)], env=env, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    done = run_rat("pull", "-w", str(ws))
    assert done.returncode == 0, done.stderr
    assert_equals_the_api(ws, api)
    assert pull(ws)["pulled"] == 0
    assert json.loads(json.dumps(stored_state(ws / "lake" / "bronze" / "items")))["cursor"] == stamp(500)
    assert Path(RAT).exists()


def test_the_readme_graphql_example_is_a_valid_source(tmp_path: Path) -> None:
    from rat_tui.engine.workspace import load_settings

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Incremental pulls, GraphQL, auth.**", 1)[1]
    (tmp_path / "rat.toml").write_text(section.split("```toml\n", 1)[1].split("```", 1)[0])
    source = load_settings(tmp_path).sources["tickets"]
    assert source.type == "graphql" and source.primary_key == ("id",)
    assert source.pagination is not None and source.pagination.path == "data.tickets.pageInfo.endCursor"
    assert source.pagination.has_next == "data.tickets.pageInfo.hasNextPage" and source.pagination.param == "after"
    assert source.incremental is not None and source.incremental.cursor_field == "updatedAt"
    assert source.auth is not None and source.auth.client_auth == "basic"


BASE = '[sources.items]\ntype = "http"\nurl = "https://api.example.com/items"\n'


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        (BASE + 'auth = { type = "basic", username = "me", password = "hunter22" }', "auth.password", "environment"),
        (BASE + 'auth = { type = "apikey" }', "auth.type", '"basic" or "oauth2_client_credentials"'),
        (
            BASE + 'auth = { type = "oauth2_client_credentials", client_id = "a", client_secret = "${S}" }',
            "auth.token_url",
            "required",
        ),
        (BASE + '[sources.items.incremental]\nparam = "since"\n', "incremental.cursor_field", "dotted path"),
        (
            BASE + '[sources.items.incremental]\ncursor_field = "u"\nparam = "s"\nlookback = "soon"\n',
            "incremental.lookback",
            "duration",
        ),
        (BASE + "primary_key = []", "primary_key", "a list of them"),
        (BASE + "rate_limit = -1", "rate_limit", "requests per second"),
        (BASE + 'query = "{ a }"', "query", "not a source setting of type http"),
        ('[sources.items]\ntype = "graphql"\nurl = "https://x.example/graphql"\n', "query", "GraphQL query document"),
        (
            '[sources.items]\ntype = "graphql"\nurl = "https://x.example/graphql"\nquery = "{ a }"\nrecords = "data.a"\n'
            'pagination = { type = "cursor" }\n',
            "pagination.path",
            "endCursor",
        ),
    ],
)
def test_new_source_settings_are_validated_naming_the_key(tmp_path: Path, body: str, key: str, says: str) -> None:
    from rat_tui.engine.errors import RatError
    from rat_tui.engine.workspace import load_settings

    (tmp_path / "rat.toml").write_text(body)
    with pytest.raises(RatError) as caught:
        load_settings(tmp_path)
    assert f"sources.items.{key}" in str(caught.value) and says in str(caught.value), str(caught.value)


def test_a_lookback_never_reaches_before_initial_and_a_duration_needs_a_time_cursor(ws: Path, api: Api) -> None:
    """Found by a review: a duration lookback on a numeric cursor went to `since=-7195`."""
    numeric = REST.format(base=api.base, lookback="5").replace('"5"', "5").replace('"updated_at"', '"id"')
    configure(ws, numeric + "initial = 2\n")
    for rid in range(10):
        api.put(rid, rid)
    pull(ws)
    assert api.requests[0][1]["since"] == "2"  # initial: no lookback before the first value
    pull(ws)
    assert api.requests[-1][1]["since"] == "4"  # 9 less 5
    text = (ws / "rat.toml").read_text().replace("lookback = 5", 'lookback = "2h"')
    (ws / "rat.toml").write_text(text)
    failed = pull(ws)["failed"]
    assert "is a duration, but the cursor 9 is a number" in str(failed["items"])  # type: ignore[index]


def test_records_dated_after_the_pull_began_are_left_with_a_warning(ws: Path, api: Api) -> None:
    configure(ws, REST.format(base=api.base, lookback="0s"))
    api.put(1, 1)
    api.records[2] = {"id": 2, "updated_at": "2099-01-01T00:00:00Z", "value": "future"}
    done = run_rat("pull", "-w", str(ws))
    assert done.returncode == 0
    assert "1 record with updated_at after this pull began" in done.stderr and "2099-01-01T00:00:00Z" in done.stderr


def test_rat_pull_without_sources_has_nothing_to_do(ws: Path) -> None:
    done = run_rat("pull", "-w", str(ws))
    assert done.returncode == 0 and "nothing to pull" in done.stderr and "Traceback" not in done.stderr


def test_rate_limit_spaces_the_requests(ws: Path, api: Api) -> None:
    configure(
        ws,
        REST.format(base=api.base, lookback="0s").replace('primary_key = "id"', 'primary_key = "id"\nrate_limit = 5'),
    )
    for rid in range(500):
        api.put(rid, rid)
    assert pull(ws)["pulled"] == 500
    gaps = [b - a for a, b in zip(api.times, api.times[1:], strict=False)]
    assert len(gaps) == 4 and min(gaps) >= 0.19  # five requests a second at most


def test_basic_auth_from_the_environment_and_a_clear_401(ws: Path, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = '\n[sources.items.auth]\ntype = "basic"\nusername = "rat"\npassword = "${ITEMS_PASSWORD}"\n'
    configure(ws, REST.format(base=api.base, lookback="0s") + auth)
    api.basic = ("rat", "pa55-word-of-items")
    api.put(1, 1)
    monkeypatch.setenv("ITEMS_PASSWORD", "wrong-password")
    failed = pull(ws)["failed"]
    assert "HTTP 401" in str(failed["items"]) and "sources.items.auth" in str(failed["items"])  # type: ignore[index]
    monkeypatch.setenv("ITEMS_PASSWORD", "pa55-word-of-items")
    assert pull(ws)["pulled"] == 1
    for path in ws.rglob("*"):
        if path.is_file():
            assert b"pa55-word-of-items" not in path.read_bytes(), path


def test_the_readme_postgres_example_is_a_valid_source(tmp_path: Path) -> None:
    from rat_tui.engine.sources.db_spec import DbSource
    from rat_tui.engine.workspace import load_settings

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Sources: pulling from Postgres", 1)[1]
    (tmp_path / "rat.toml").write_text(section.split("```toml\n", 1)[1].split("```", 1)[0])
    source = load_settings(tmp_path).sources["shop"]
    assert isinstance(source, DbSource) and source.dsn == "${SHOP_DSN}"
    assert [(t.name, t.mode, t.cursor) for t in source.tables] == [
        ("public.customers", "snapshot", ""),
        ("public.orders", "incremental", "updated_at"),
    ]
    assert source.table == "bronze.shop_customers, bronze.shop_orders"


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ('dsn = "postgresql://u:secret@h/db"\ntables = ["public.t"]', "sources.shop.dsn", "holds a password"),
        (
            'host = "h"\ndatabase = "d"\npassword = "plain"\ntables = ["public.t"]',
            "sources.shop.password",
            "environment",
        ),
        ('dsn = "${D}"', "sources.shop.tables", "must list the tables"),
        ('dsn = "${D}"\ntables = ["orders"]', 'sources.shop.tables."orders"', "with its schema"),
        ('dsn = "${D}"\n[sources.shop.tables."public.t"]\nmode = "cdc"', "mode", "not built yet"),
        ('dsn = "${D}"\n[sources.shop.tables."public.t"]\nmode = "incremental"', "cursor", "the column"),
        ('dsn = "${D}"\ntables = ["public.t"]\nurl = "x"', "sources.shop.url", "not a setting of a postgres source"),
    ],
)
def test_postgres_source_settings_are_validated_naming_the_key(tmp_path: Path, body: str, key: str, says: str) -> None:
    from rat_tui.engine.errors import RatError
    from rat_tui.engine.workspace import load_settings

    (tmp_path / "rat.toml").write_text('[sources.shop]\ntype = "postgres"\n' + body + "\n")
    with pytest.raises(RatError) as caught:
        load_settings(tmp_path)
    assert key in str(caught.value) and says in str(caught.value), str(caught.value)


def test_looking_up_landed_records_never_aborts_the_process_at_exit(ws: Path, api: Api) -> None:
    """Found by the suite: `rat pull` exited with SIGABRT ("terminate called without an active
    exception") after its work, from deltalake's filtered to_pyarrow_dataset() scan (32 exits in
    40 in a loop); the lookup reads the Parquet files itself now."""
    configure(ws, REST.format(base=api.base, lookback="0s"))
    for rid in range(50):
        api.put(rid, rid)
    assert pull(ws)["pulled"] == 50
    some = sorted(bronze(ws)["_record_hash"].to_list())[:2]
    look = (
        "import sys; from pathlib import Path; from rat_tui.engine.sources.cursor import landed_hashes; "
        "print(len(landed_hashes(Path(sys.argv[1]), set(sys.argv[2:]) | {'nope'})))"
    )
    for _ in range(10):
        done = subprocess.run(
            [sys.executable, "-c", look, str(ws / "lake" / "bronze" / "items"), *some], capture_output=True, text=True
        )
        assert done.returncode == 0 and done.stdout.strip() == "2", done.stderr
