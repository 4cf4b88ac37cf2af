"""The edges of `rat serve`'s HTTP contract: schemathesis against its own OpenAPI description
(every endpoint fuzzed: examples, boundary values, random data, stateful sequences) on the served
demo, as a client would see it, and what it found, each pinned by a test of its own.

Every check runs but `positive_data_acceptance`: the schema can only say the SQL is a non-empty
string, and a random string is rarely SQL DuckDB can run (that is a 400, rightly). A fixed seed
keeps a failure reproducible (`st run ... --seed 7`); it found the 405s without an Allow header, a
non-string `format` answered as JSON, and unknown table parameters silently ignored."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import RAT, answers, free_port, wait_until

ST = Path(sys.executable).parent / "st"


@pytest.fixture(scope="module")
def served(demo: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([RAT, "serve", "-w", str(demo), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(f"{base}/api/health"), timeout=30, what="rat serve")
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in log and " 500 " not in log, log[-3000:]


def test_schemathesis_finds_nothing_against_the_openapi_description(served: str, tmp_path: Path) -> None:
    st = str(ST) if ST.exists() else shutil.which("st")
    assert st, "schemathesis is a test extra: pip install -e '.[test]'"
    done = subprocess.run(
        [
            st, "run", f"{served}/api/openapi.json", "--seed", "7", "--max-examples", "60",
            "--exclude-checks", "positive_data_acceptance", "--no-color",
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:]
    # It really ran every operation and phase (not an empty selection passing by default).
    assert "Tested: 4" in done.stdout and "generated" in done.stdout, done.stdout[-3000:]


def test_a_method_not_allowed_names_the_allowed_ones(served: str) -> None:
    answer = httpx.request("TRACE", f"{served}/api/query")
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"  # RFC 9110
    assert answer.json()["status"] == 405


def test_format_must_be_a_format_and_null_means_the_default(served: str) -> None:
    wrong = httpx.post(f"{served}/api/query", json={"sql": "select 1 as n", "format": []})
    assert wrong.status_code == 400 and "format must be one of" in wrong.json()["error"]
    assert httpx.post(f"{served}/api/query", json={"sql": "select 1 as n", "format": ""}).status_code == 400
    plain = httpx.post(f"{served}/api/query", json={"sql": "select 1 as n", "format": None, "limit": None})
    assert plain.status_code == 200 and plain.json() == [{"n": 1}]


def test_an_unknown_table_parameter_is_refused_not_ignored(served: str) -> None:
    typo = httpx.get(f"{served}/api/tables/gold.daily_revenue", params={"limt": 1})
    assert typo.status_code == 400 and "unknown parameter limt" in typo.json()["error"]
    assert len(httpx.get(f"{served}/api/tables/gold.daily_revenue", params={"limit": 1}).json()) == 1


def test_a_malformed_request_is_one_line_in_the_log_not_a_traceback(demo: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([RAT, "serve", "-w", str(demo), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/api/health"), timeout=30, what="rat serve")
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Bad: \x00\r\n\r\n")
            assert raw.recv(200).startswith(b"HTTP/1.0 400")
        assert answers(f"http://127.0.0.1:{port}/api/health")  # and the server goes on
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in log, log
    assert "rat serve: Error handling request from 127.0.0.1: 400, message: Invalid header value char" in log, log
