"""GET /api/openapi.json: every endpoint of `rat serve`, in OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rat_tui._version import __version__
from rat_tui.serve.encode import FORMATS

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    why = {
        400: "a bad request or a query DuckDB cannot run (its message)",
        401: "a token is required: `Authorization: Bearer <token>`",
        403: "not a read: DDL, DML, COPY, ATTACH, INSTALL, PRAGMA, SET, files outside the lake",
        404: "no such table, or no such version",
        408: "the query ran past its timeout and was interrupted",
        503: "as many queries as the server runs at once are running; try again",
    }
    return {str(c): {"description": why[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _result(description: str) -> dict[str, Any]:
    return {
        "description": description + ", streamed (json: an array of objects; ndjson: an object a line)",
        "content": {mime: {"schema": {}} for mime in FORMATS.values()},
    }


def _param(name: str, kind: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind, **schema},
    }


def spec() -> dict[str, Any]:
    """The description; tests/test_serve.py checks it names every route the server has."""
    formats = {"type": "string", "enum": list(FORMATS), "default": "json"}
    column = {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}}}
    table = {
        "type": "object",
        "required": ["name", "layer", "kind", "rows", "version", "columns"],
        "properties": {
            "name": {"type": "string", "examples": ["gold.daily_revenue"]},
            "layer": {"type": "string", "enum": ["bronze", "silver", "gold"]},
            "kind": {"type": "string", "enum": ["table", "view"]},
            "rows": {"type": ["integer", "null"]},
            "version": {"type": ["integer", "null"]},
            "updated_at": {"type": ["string", "null"]},
            "columns": {"type": "array", "items": column},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rat serve",
            "version": __version__,
            "description": "A rat workspace's lake, read-only: its tables, and SQL over them (DuckDB).",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "Table": table,
                "Query": {
                    "type": "object",
                    "required": ["sql"],
                    "additionalProperties": False,
                    "properties": {
                        "sql": {"type": "string", "minLength": 1, "examples": ["select * from gold.daily_revenue"]},
                        # null is the same as leaving the field out
                        "format": {**formats, "type": ["string", "null"], "enum": [*FORMATS, None]},
                        "limit": {"type": ["integer", "null"], "minimum": 0, "description": "rows at most (default: all)"},
                        "timeout_s": {
                            "type": ["number", "null"],
                            "exclusiveMinimum": 0,
                            "description": "default [serve] query_timeout",
                        },
                    },
                },
            },
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/api/health": {
                "get": {
                    "summary": "alive, and the lake readable (needs no token)",
                    "security": [{}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}},
                }
            },
            "/api/tables": {
                "get": {
                    "summary": "every table and view: name, layer, kind, rows, version, columns",
                    "responses": {
                        "200": {
                            "description": "the tables",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"tables": {"type": "array", "items": {"$ref": "#/components/schemas/Table"}}},
                                    }
                                }
                            },
                        },
                        **_errors(401),
                    },
                }
            },
            "/api/tables/{name}": {
                "get": {
                    "summary": "a table's rows (at a version: time travel)",
                    "parameters": [
                        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "layer.table, or the table's name where one layer has it"},
                        _param("limit", "integer", "rows at most (default 100)", minimum=0),
                        _param("offset", "integer", "rows to skip first", minimum=0),
                        _param("version", "integer", "a Delta version (default: the current one)", minimum=0),
                        {"name": "format", "in": "query", "required": False, "schema": formats},
                    ],
                    "responses": {"200": _result("the rows"), **_errors(400, 401, 404, 408, 503)},
                }
            },
            "/api/query": {
                "post": {
                    "summary": "one read-only SQL query over the lake",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Query"}}}},
                    "responses": {"200": _result("the result"), **_errors(400, 401, 403, 408, 503)},
                }
            },
            "/api/openapi.json": {
                "get": {"summary": "this description", "responses": {"200": {"description": "OpenAPI 3.1"}}}
            },
        },
    }  # fmt: skip


async def handler(request: web.Request) -> web.Response:
    return web.json_response(spec())
