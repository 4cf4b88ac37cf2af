"""The workbench in a browser at /workbench/: textual-serve runs `rat -w DIR` per browser session
(the same app as in a terminal, over a websocket), at most [serve] max_sessions at once."""

from __future__ import annotations

import shlex
import sys

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

from rat_tui.serve.served import Served

PREFIX = "/workbench"


class _Workbench(Server):
    """textual-serve's handlers, with the page's URLs taken from the request (behind Docker's port
    mapping or a proxy the browser's host is not the one bound) and a cap on sessions."""

    def __init__(self, served: Served) -> None:
        command = shlex.join([sys.executable, "-m", "rat_tui", "-w", str(served.ws.root)])
        super().__init__(command, title=f"rat · {served.settings.name}")
        self.served = served

    async def index(self, request: web.Request) -> web.StreamResponse:
        self.public_url = f"{request.scheme}://{request.host}"
        return await self.handle_index(request)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        sessions = self.served.sessions
        if not sessions.acquire(blocking=False):
            limit = self.served.settings.serve_max_sessions
            return web.Response(status=503, text=f"{limit} workbench sessions are open, the most at once\n")
        try:
            return await self.handle_websocket(request)
        finally:
            sessions.release()


def mount(app: web.Application, served: Served) -> None:
    bench = _Workbench(served)
    sub = web.Application()
    aiohttp_jinja2.setup(sub, loader=jinja2.FileSystemLoader(bench.templates_path))
    sub.add_routes(
        [
            web.get("/", bench.index, name="index"),
            web.get("/ws", bench.websocket, name="websocket"),
            web.get("/download/{key}", bench.handle_download, name="download"),
            web.static("/static", bench.statics_path, name="static"),
        ]
    )

    async def to_slash(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    app.router.add_get(PREFIX, to_slash)
    app.add_subapp(PREFIX + "/", sub)
