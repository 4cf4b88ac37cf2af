"""The aiohttp application of `rat serve`: routes, the token, capacity, the access log."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from rat_tui.engine import RatError
from rat_tui.engine.workspace import Workspace
from rat_tui.serve.served import SERVED, Served

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE = "rat_token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authorized(request: web.Request, token: str) -> bool:
    offered = ""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        offered = header[len("Bearer ") :].strip()
    else:
        offered = request.cookies.get(COOKIE, "") or request.query.get("token", "")
    return bool(offered) and hmac.compare_digest(offered.encode(), token.encode())


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The token (when the server has one), one access-log line without the query string (a
    browser's ?token= must never reach a log), and JSON errors under /api."""
    from rat_tui.serve.queries import error

    started = time.perf_counter()
    server = request.app[SERVED]
    status = 500
    try:
        if server.token and request.path != "/api/health" and not _authorized(request, server.token):
            status = 401
            if request.path.startswith("/api/"):
                return error(401, "this server needs a token: send `Authorization: Bearer <token>`")
            return web.Response(status=401, text="rat serve: open this page with ?token=<token>\n")
        response = await handler(request)
        if server.token and "token" in request.query and not request.path.startswith("/api/"):
            # A browser came with ?token=: keep it in a cookie so the workbench's websocket has it.
            response.set_cookie(COOKIE, server.token, httponly=True, samesite="Strict")
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if request.path.startswith("/api/"):
            answer = error(exc.status, exc.reason if exc.status == 404 else (exc.text or exc.reason))
            if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110: a 405 names what is allowed
                answer.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
            return answer
        raise
    finally:
        took = time.perf_counter() - started
        sys.stderr.write(f"rat serve: {request.method} {request.path} {status} {took:.3f}s\n")


async def health(request: web.Request) -> web.Response:
    """Alive, and the lake readable: for Docker's HEALTHCHECK and load balancers (no token)."""
    from rat_tui.engine import lake as delta

    server = request.app[SERVED]
    tables = await asyncio.to_thread(delta.list_tables, server.ws)
    return web.json_response({"status": "ok", "workspace": server.settings.name, "tables": len(tables)})


def make_app(ws: Workspace, token: str | None, workbench: bool = True) -> web.Application:
    """The whole server for `ws`; `token` required of every request when given."""
    from rat_tui.serve import openapi, pages, queries

    app = web.Application(middlewares=[guard], client_max_size=4 * 2**20)
    server = Served(ws, token)
    app[SERVED] = server
    app.add_routes(
        [
            web.get("/api/health", health),
            web.get("/api/tables", queries.tables),
            web.get("/api/tables/{name}", queries.table_rows),
            web.post("/api/query", queries.query),
            web.get("/api/openapi.json", openapi.handler),
            web.get("/", pages.status_page),
        ]
    )
    if workbench:
        from rat_tui.serve.workbench import mount

        mount(app, server)

    async def closing(_: web.Application) -> None:
        server.close()

    app.on_cleanup.append(closing)
    return app


class OneLine(logging.Handler):
    """aiohttp's own complaints (a malformed request, a client gone mid-answer) as one line on
    stderr, never a traceback: bad input from a client is not the server's crash."""

    def emit(self, record: logging.LogRecord) -> None:
        why = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            why = ": " + (" ".join(lines[:2]) or type(exc).__name__)  # "400, message: Invalid header ..."
        sys.stderr.write(f"rat serve: {record.getMessage()}{why}\n")


def quiet_aiohttp() -> None:
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [OneLine(logging.WARNING)]
        logger.propagate = False


def serve(ws: Workspace, host: str, port: int, token: str | None) -> None:
    """Run the server until SIGINT/SIGTERM; RatError when a non-loopback address has no token."""
    if not is_loopback(host) and not token:
        raise RatError(
            f"rat serve on {host} would serve the lake to the network without a token; "
            'pass --token-env VAR (a variable holding it) or set [serve] token = "${VAR}", or bind 127.0.0.1'
        )
    app = make_app(ws, token)
    quiet_aiohttp()
    sys.stderr.write(f"rat serve: {ws.settings.name} on http://{host}:{port}/ (API /api, workbench /workbench)\n")
    try:
        web.run_app(app, host=host, port=port, access_log=None, print=None, handle_signals=True)
    except OSError as exc:  # the address is taken, or not this machine's
        why = exc.strerror or str(exc)
        raise RatError(
            f"rat serve cannot listen on {host}:{port}: {why}; another server may have it: pass another --port"
        ) from None
