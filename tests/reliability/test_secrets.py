"""A token used by an HTTP source appears nowhere on disk or in output, through successful and
failing pulls.

One workspace holds sources that succeed (one of them against an API that echoes the credentials
back inside its records, one whose records land in quarantine) and sources that fail every way a
pull can: a 401 whose body repeats the Authorization header and the api_key, a 500 echoing them,
a timeout, a refused connection, an unknown host, a wrong records path on a body whose keys are
the credentials, a non-JSON body holding them, a 404 on a URL with the key in its path, a landing
folder that cannot be written. The real `rat` runs them (`rat run`, `rat run --debug`,
`rat watch --json`, `rat status [--json]`, `rat query`) with the secrets in its environment; then
every byte of every file under the workspace (state.sqlite and its WAL, the lake's Parquet and
Delta logs, landing/, quarantine/, logs/) and every line of output is searched for them, in plain,
URL-encoded and JSON-escaped form, and the lake's Parquet is decoded and searched too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pyarrow.parquet as pq
import pytest
import tomli_w
from conftest import RAT, run_rat, write
from fake_api import FakeApi, Reply, Request, paged

from rat_tui.engine.workspace import init_workspace

TOKEN = f"tok-{uuid.uuid4().hex}"  # fresh per run: a match can only come from this test
KEY = f"key/{uuid.uuid4().hex[:12]}+x"  # with characters URL-encoding changes
SECRETS = (TOKEN, KEY)


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}


# Every 12 characters in a row of a secret, in each form: a cut secret (an excerpt shortened
# after, not before, redaction) is a leak too.
NEEDLES = sorted({f[i : i + 12] for s in SECRETS for f in forms(s) for i in range(len(f) - 11)})


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [n for n in NEEDLES if n.encode() in data]


@pytest.fixture
def apis() -> Iterator[tuple[FakeApi, FakeApi]]:
    api = FakeApi(token=TOKEN, api_key=KEY).start()
    denied = FakeApi(token="the-token-this-server-wants").start()
    yield api, denied
    api.stop()
    denied.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def workspace(root: Path, api: FakeApi, denied: FakeApi) -> Path:
    def echo(request: Request) -> Reply:
        # An API that puts the request's credentials into its records.
        seen = {"auth": request.headers.get("authorization"), "key": request.query.get("api_key")}
        return Reply(200, {"data": [{"id": 1, **seen, "note": f"called with {seen['auth']}"}]})

    def deep(request: Request) -> Reply:
        record: dict = {"auth": request.headers.get("authorization")}
        for _ in range(300):  # deeper than ingest takes: the pulled file is quarantined
            record = {"a": record}
        return Reply(200, [record])

    api.route("/orders", paged([{"id": i, "amount": i * 2.5} for i in range(1, 6)], 2))
    api.route("/echo", echo)
    api.route("/deep", deep)
    api.route("/boom", lambda r: Reply(500, {"message": f"failed for {r.headers['authorization']} {r.query}"}))
    api.route("/slow", lambda r: Reply(200, {"data": []}, delay=1.0))
    api.route("/keys", lambda r: Reply(200, {"items": [], f"Bearer {TOKEN}": 1, KEY: 2}))
    api.route("/html", lambda r: Reply(502, f"<html>proxy error for {TOKEN} {KEY}</html>".encode()))
    api.route("/text", lambda r: Reply(200, f"hello {r.headers['authorization']}".encode()))
    auth = {"Authorization": "Bearer ${ORDERS_TOKEN}"}
    key = {"api_key": "${ORDERS_KEY}"}
    common = {"type": "http", "headers": auth, "params": key, "every": "1s", "retries": 0}
    sources = {
        "orders_api": {**common, "url": f"{api.base}/orders", "records": "data", "pagination": {"type": "page"}},
        "echo": {**common, "url": f"{api.base}/echo", "records": "data"},
        "deep": {**common, "url": f"{api.base}/deep"},
        "denied": {**common, "url": f"{denied.base}/orders"},
        "boom": {**common, "url": f"{api.base}/boom", "retries": 1},
        "slow": {**common, "url": f"{api.base}/slow", "timeout": 0.2},
        "refused": {**common, "url": f"http://127.0.0.1:{closed_port()}/orders?api_key=${{ORDERS_KEY}}"},
        "no_dns": {**common, "url": "http://rat-secret-test.invalid/orders"},
        "bad_path": {**common, "url": f"{api.base}/keys", "records": "data"},
        "html": {**common, "url": f"{api.base}/html"},
        "not_json": {**common, "url": f"{api.base}/text"},
        "key_in_path": {**common, "url": f"{api.base}/t/${{ORDERS_KEY}}/orders"},
        "blocked": {**common, "url": f"{api.base}/orders", "records": "data"},
    }
    init_workspace(root)
    with open(root / "rat.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + tomli_w.dumps({"sources": sources}))
    write(root / "landing" / "blocked", "a file where the source's folder would go\n")
    write(root / "models" / "silver" / "orders.sql", "select id, amount from bronze.orders_api")
    return root


FAILING = ("denied", "boom", "slow", "refused", "no_dns", "bad_path", "html", "not_json", "key_in_path", "blocked")


def watch_once(root: Path, env: dict[str, str]) -> tuple[str, str]:
    """`rat watch --json` until it finished one run with pulls, then SIGTERM; its stdout and stderr."""
    proc = subprocess.Popen(
        [RAT, "watch", "-w", str(root), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if json.loads(line)["event"] == "RunFinished" and any('"SourceFailed"' in x for x in lines):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "".join(lines) + out, err


def test_no_secret_on_disk_or_in_output(tmp_path: Path, apis: tuple[FakeApi, FakeApi]) -> None:
    api, denied = apis
    root = workspace(tmp_path / "ws", api, denied)
    env = {**os.environ, "ORDERS_TOKEN": TOKEN, "ORDERS_KEY": KEY}
    outputs: dict[str, str] = {}

    def rat(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([RAT, *args], capture_output=True, text=True, env=env, timeout=180)
        outputs[" ".join(args) + f" #{len(outputs)}"] = proc.stdout + proc.stderr
        return proc

    first = rat("run", "-w", str(root))
    assert first.returncode == 1, first.stderr
    for name in FAILING:
        assert f"FAILED source {name}: " in first.stderr, (name, first.stderr)
    assert "pulled orders_api: 5 records in 4 pages" in first.stderr
    assert "pulled echo: 1 record" in first.stderr and "quarantined landing/deep/" in first.stderr
    assert "built silver.orders" in first.stderr
    # The failures say what happened, with the placeholders where the secrets were.
    assert "HTTP 401 Unauthorized (server: bad credentials: got Authorization='[redacted]'" in first.stderr
    assert "api_key='${ORDERS_KEY}'" in first.stderr
    assert "no response within 0.2s" in first.stderr and "cannot connect (" in first.stderr
    assert f"GET {api.base}/t/${{ORDERS_KEY}}/orders failed: HTTP 404" in first.stderr
    assert "HTTP 502 Bad Gateway from" not in first.stderr and "proxy error" not in first.stderr  # body unread

    debug = rat("run", "-w", str(root), "--debug")
    assert debug.returncode == 1 and "FAILED source denied" in debug.stderr
    watch_out, watch_err = watch_once(root, env)
    outputs["watch --json"] = watch_out + watch_err
    assert '"event": "SourcePulled"' in watch_out and '"event": "SourceFailed"' in watch_out
    status = rat("status", "-w", str(root), "--json")
    assert status.returncode == 0
    sources = {s["name"]: s for s in json.loads(status.stdout)["sources"]}
    # `blocked` pulled once ingest had quarantined the loose file that stood in its way.
    assert {n for n, s in sources.items() if s["last_pull"]["status"] == "failed"} == set(FAILING) - {"blocked"}
    assert rat("status", "-w", str(root)).returncode == 0
    echoed = rat("query", "-w", str(root), "select auth, key, note from bronze.echo", "--format", "csv")
    assert echoed.returncode == 0 and "[redacted]" in echoed.stdout and "${ORDERS_KEY}" in echoed.stdout

    for command, text in outputs.items():
        assert not leaks(text), (command, leaks(text), text)
    checked = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            assert not leaks(path.read_bytes()), (path, leaks(path.read_bytes()))
            checked += 1
            if path.suffix == ".parquet":  # compressed: decode it and look again
                assert not leaks(str(pq.read_table(path).to_pylist())), path
    assert checked > 20 and (root / ".rat" / "state.sqlite").exists()
    assert list((root / ".rat" / "quarantine").rglob("*.reason.txt"))  # the quarantine was searched too


def test_an_unset_variable_names_it_and_no_value(tmp_path: Path, apis: tuple[FakeApi, FakeApi]) -> None:
    api, _ = apis
    api.route("/orders", lambda r: Reply(200, {"data": [{"id": 1}]}))
    root = tmp_path / "ws"
    init_workspace(root)
    spec = {"type": "http", "url": f"{api.base}/orders", "records": "data"}
    sources = {
        "needs_env": {**spec, "headers": {"Authorization": "Bearer ${RAT_TEST_UNSET_TOKEN}"}},
        "fine": {
            **spec,
            "headers": {"Authorization": "Bearer ${ORDERS_TOKEN}"},
            "params": {"api_key": "${ORDERS_KEY}"},
        },
    }
    with open(root / "rat.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + tomli_w.dumps({"sources": sources}))
    env = {k: v for k, v in os.environ.items() if k != "RAT_TEST_UNSET_TOKEN"}
    proc = subprocess.run(
        [RAT, "run", "-w", str(root)],
        capture_output=True,
        text=True,
        env={**env, "ORDERS_TOKEN": TOKEN, "ORDERS_KEY": KEY},
        timeout=120,
    )
    assert proc.returncode == 1
    assert (
        "FAILED source needs_env: environment variable RAT_TEST_UNSET_TOKEN is not set "
        "(sources.needs_env.headers.Authorization uses it)"
    ) in proc.stderr
    assert "pulled fine: 1 record" in proc.stderr and not leaks(proc.stdout + proc.stderr)
    assert run_rat("query", "-w", str(root), "select count(*) from bronze.fine", "--format", "csv").stdout.split() == [
        "count_star()",
        "1",
    ]
