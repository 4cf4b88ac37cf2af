"""A real API on 127.0.0.1 that misbehaves on purpose, for the incremental sources' tests.

It holds records `{id, updated_at, value}` and serves them sorted by (updated_at, id) from a
`since` (>=), keyset-paginated (`page_token`), as REST (`GET /items`) and as GraphQL
(`POST /graphql`, Relay pageInfo); OAuth 2 client credentials at `POST /token`. Hooks let a test
change the records while a pull is under way, answer 429 or 500 first, send GraphQL errors under
HTTP 200, or expire the token mid-pull.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def stamp(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    def __init__(self, page_size: int = 100) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.page_size = page_size
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, query or variables)
        self.times: list[float] = []  # when each request came (time.monotonic)
        self.on_page: Callable[[int], None] | None = None  # called with the page's number (from 1) before it is served
        self.fail_first: list[tuple[int, dict[str, str]]] = []  # statuses (and headers) to answer first
        self.graphql_errors = False
        self.client = ("rat-client", "s3cret-client")
        self.tokens: dict[str, int] = {}  # token -> requests it has left
        self.token_life = 0  # 0: tokens never expire; N: a token expires after N requests
        self.basic: tuple[str, str] | None = None  # when set, every data request needs this HTTP Basic pair
        self.issued = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                self._answer(parts.path, query)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                path = urlsplit(self.path).path
                if path == "/token":
                    self._token(raw.decode())
                    return
                body = json.loads(raw)
                self._answer(path, body.get("variables") or {})

            def _token(self, form: str) -> None:
                sent = self.headers.get("Authorization", "")
                wanted = "Basic " + base64.b64encode(":".join(api.client).encode()).decode()
                fields = {k: v[-1] for k, v in parse_qs(form).items()}
                if sent != wanted or fields.get("grant_type") != "client_credentials":
                    self._send(401, {"error": "invalid_client"})
                    return
                with api.lock:
                    api.issued += 1
                    token = f"tok-{api.issued}"
                    api.tokens[token] = api.token_life or 10**9
                self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})

            def _answer(self, path: str, args: dict[str, Any]) -> None:
                with api.lock:
                    api.requests.append((path, dict(args)))
                    api.times.append(time.monotonic())
                    if api.fail_first:
                        status, headers = api.fail_first.pop(0)
                        self._send(status, {"error": "try again later"}, headers)
                        return
                    if api.basic is not None:
                        wanted = "Basic " + base64.b64encode(":".join(api.basic).encode()).decode()
                        if self.headers.get("Authorization", "") != wanted:
                            self._send(401, {"error": "bad credentials"})
                            return
                    if api.token_life:
                        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                        if api.tokens.get(token, 0) <= 0:
                            self._send(401, {"error": "token expired"})
                            return
                        api.tokens[token] -= 1
                if api.on_page is not None:
                    api.on_page(len([r for r in api.requests if r[0] == path]))
                page, nxt = api.page(str(args.get("since") or ""), args.get("page_token") or args.get("after"))
                if path == "/items":
                    self._send(200, {"data": page, "next": nxt})
                elif path == "/graphql":
                    if api.graphql_errors:
                        self._send(200, {"data": {"items": None}, "errors": [{"message": "rate limited by resolver"}]})
                        return
                    info = {"endCursor": nxt, "hasNextPage": nxt is not None}
                    self._send(200, {"data": {"items": {"nodes": page, "pageInfo": info}}})
                else:
                    self._send(404, {"error": "no such route"})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def put(self, rid: int, at: float, value: str | None = None) -> None:
        """Insert or update a record (a new updated_at, a new value)."""
        self.records[rid] = {"id": rid, "updated_at": stamp(at), "value": value or f"v{rid}@{at:g}"}

    def page(self, since: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        rows = sorted(self.records.values(), key=lambda r: (r["updated_at"], r["id"]))
        rows = [r for r in rows if r["updated_at"] >= since]
        if token:
            at, rid = token.split("|")
            rows = [r for r in rows if (r["updated_at"], r["id"]) > (at, int(rid))]
        page = [dict(r) for r in rows[: self.page_size]]
        more = len(rows) > self.page_size
        return page, (f"{page[-1]['updated_at']}|{page[-1]['id']}" if more else None)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
