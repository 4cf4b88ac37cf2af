"""A real HTTP server on 127.0.0.1 for the HTTP source's tests: JSON routes a test registers,
a bearer token and an api_key it requires, and failures it can be told to produce (401 echoing
the credentials it was sent, 500, 429, a response slower than the client's timeout)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[Request], Reply]


class FakeApi:
    def __init__(self, token: str | None = None, api_key: str | None = None) -> None:
        self.token = token  # required as `Authorization: Bearer <token>` when set
        self.api_key = api_key  # required as the `api_key` query parameter when set
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        api = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                request = Request(parts.path, query, {k.lower(): v for k, v in self.headers.items()})
                api.requests.append(request)
                reply = api.handle(request)
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    if not isinstance(reply.body, bytes):
                        self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def handle(self, request: Request) -> Reply:
        sent_auth = request.headers.get("authorization", "")
        sent_key = request.query.get("api_key", "")
        if (self.token is not None and sent_auth != f"Bearer {self.token}") or (
            self.api_key is not None and sent_key != self.api_key
        ):
            # Like a careless API: the error body repeats the credentials it was sent.
            echo = f"bad credentials: got Authorization={sent_auth!r} api_key={sent_key!r}"
            return Reply(401, {"error": echo, "request_headers": dict(request.headers)})
        handler = self.routes.get(request.path)
        if handler is None:
            return Reply(404, {"error": f"no route {request.path}"})
        return handler(request)

    def start(self) -> FakeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def paged(records: list[dict[str, Any]], size: int, key: str = "data") -> Handler:
    """`?page=N` (from 1): `{key: [...]}` with `size` records, then an empty list."""

    def handler(request: Request) -> Reply:
        page = int(request.query.get("page", "1"))
        return Reply(200, {key: records[(page - 1) * size : page * size], "page": page})

    return handler
