"""The query API: GET /api/tables, GET /api/tables/{name}, POST /api/query.

Each query runs on its own cursor and thread (running.Query); its status (200, 400, 403, 408) is
chosen once it has bound and made its first batch, then the rest streams with backpressure: the
thread makes the next chunks only as fast as the client takes them, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rat_tui.engine import RatError
from rat_tui.serve.encode import FORMATS, encode
from rat_tui.serve.guard import BadQuery, Refused, check_read
from rat_tui.serve.running import Query, TimedOut
from rat_tui.serve.served import SERVED, Served

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb


AHEAD = 4  # chunks the query's thread may make before the client has taken them
_DONE = object()


def error(status: int, message: str, **extra: Any) -> web.Response:
    """Every error of the API: `{"error": "...", "status": N}`."""
    return web.json_response({"error": message, "status": status, **extra}, status=status)


def served(request: web.Request) -> Served:
    return request.app[SERVED]


async def tables(request: web.Request) -> web.Response:
    """Every table and view: name, layer, kind, rows, version, columns and their types."""
    lake = served(request).lake
    infos = await asyncio.to_thread(lake.tables)
    out = []
    for t in infos:
        info = asdict(t)
        info["columns"] = [{"name": n, "type": ty} for n, ty in t.columns]
        info.pop("path")
        out.append(info)
    return web.json_response({"tables": out})


def _int(request: web.Request, key: str, default: int | None, low: int = 0) -> int | None:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{key} must be an integer, not {raw!r}") from None
    if value < low:
        raise web.HTTPBadRequest(text=f"{key} must be at least {low}, not {value}")
    return value


TABLE_PARAMETERS = {"limit", "offset", "version", "format", "token"}  # token: a browser's, see app.guard


async def table_rows(request: web.Request) -> web.StreamResponse:
    """A table's rows: ?limit= (default 100), ?offset=, ?version= (time travel), ?format=."""
    name = request.match_info["name"]
    unknown = sorted(set(request.query) - TABLE_PARAMETERS)
    if unknown:  # a typo (?limt=10) must not silently mean the default
        return error(400, f"unknown parameter {', '.join(unknown)}; the parameters are limit, offset, version, format")
    try:
        limit = _int(request, "limit", 100)
        offset = _int(request, "offset", 0) or 0
        version = _int(request, "version", None)
    except web.HTTPBadRequest as exc:
        return error(400, exc.text or "bad parameter")
    fmt = request.query.get("format", "json")
    server = served(request)
    try:
        relation_of = await asyncio.to_thread(server.table_relation, name, version)
    except RatError as exc:
        return error(404, str(exc))

    def limited(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
        relation = relation_of(cursor)
        return relation.limit(limit, offset) if limit is not None else relation

    return await stream(request, limited, fmt, server.settings.serve_query_timeout)


async def query(request: web.Request) -> web.StreamResponse:
    """POST {"sql": ..., "format": "json", "limit": N, "timeout_s": T}: the result, streamed."""
    try:
        body = await request.json()
    except ValueError:
        return error(400, 'the body must be JSON: {"sql": "select ..."}')
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        return error(400, 'the body must be a JSON object with "sql", a string')
    unknown = sorted(set(body) - {"sql", "format", "limit", "timeout_s"})
    if unknown:
        return error(400, f"unknown field {', '.join(unknown)}; the fields are sql, format, limit, timeout_s")
    limit, timeout = body.get("limit"), body.get("timeout_s")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        return error(400, f"limit must be a whole number of rows, not {limit!r}")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
        return error(400, f"timeout_s must be a number of seconds above 0, not {timeout!r}")
    sql = body["sql"]
    try:
        check_read(sql)
    except Refused as exc:
        return error(403, str(exc))
    except BadQuery as exc:
        return error(400, str(exc))

    def relation_of(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
        relation = cursor.sql(sql)
        if relation is None:
            raise BadQuery("the statement returns no rows; send a SELECT")
        return relation.limit(limit) if limit is not None else relation

    server = served(request)
    return await stream(
        request,
        relation_of,
        "json" if body.get("format") is None else body["format"],
        timeout or server.settings.serve_query_timeout,
    )


async def stream(
    request: web.Request,
    relation_of: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation],
    fmt: str,
    timeout: float,
) -> web.StreamResponse:
    if not isinstance(fmt, str) or fmt not in FORMATS:
        return error(400, f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    server = served(request)
    if not server.queries.acquire(blocking=False):
        return error(503, f"{server.settings.serve_max_queries} queries are running, the most at once; try again")
    try:
        cursor = await asyncio.to_thread(server.live.cursor)
        run = Query(cursor, relation_of, float(timeout))
        try:
            await asyncio.to_thread(run.start)
        except TimedOut as exc:
            return error(408, str(exc))
        except Refused as exc:
            return error(403, str(exc))
        except BadQuery as exc:
            return error(400, str(exc))
        response = web.StreamResponse(headers={"Content-Type": FORMATS[fmt], "Cache-Control": "no-store"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await _pump(run, fmt, response)
        except ConnectionError as exc:
            # The client left, or the query failed after its first rows were sent: the answer is
            # cut without its last chunk, so no client mistakes a part for the whole.
            if request.transport is not None:
                request.transport.abort()
            if isinstance(exc, ConnectionAbortedError):
                sys.stderr.write(f"rat serve: {request.path}: {exc}\n")
            return response
        await response.write_eof()
        return response
    finally:
        server.queries.release()


async def _pump(run: Query, fmt: str, response: web.StreamResponse) -> None:
    """Move the query's chunks from its thread to the client, AHEAD at most in between."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[object] = asyncio.Queue()
    room = threading.Semaphore(AHEAD)
    assert run.schema is not None
    schema = run.schema

    def produce() -> None:
        try:
            for chunk in encode(fmt, schema, run.batches()):
                while not room.acquire(timeout=0.5):
                    if run.stopped:
                        return
                if run.stopped:
                    return
                loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            loop.call_soon_threadsafe(chunks.put_nowait, _DONE)
        except BaseException as exc:  # the query failed or timed out mid-stream
            loop.call_soon_threadsafe(chunks.put_nowait, exc)

    thread = threading.Thread(target=produce, name="rat-serve-query", daemon=True)
    thread.start()
    try:
        while True:
            item = await chunks.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                # The status is sent: the stream is cut without its end, so the client sees an
                # incomplete answer rather than a short one that looks whole.
                raise ConnectionAbortedError(f"the query failed while streaming: {item}")
            assert isinstance(item, bytes)
            if item:
                await response.write(item)
            room.release()
    finally:
        run.stop()  # a no-op when it ended; else the client left or the stream broke
        room.release()
