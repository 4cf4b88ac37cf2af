"""The sub-tables and lists of a `[sources.<name>]`: pagination, incremental, auth, primary_key,
headers and params, GraphQL's query and variables; each validated with a one-line error naming
its key."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rat_tui.engine.sources.secrets import check_template

EVERY_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")

Bad = Callable[[str, str], Exception]


@dataclass(frozen=True)
class Pagination:
    type: str  # page | offset | cursor | link
    # page: the page number's query parameter; offset: the offset's; cursor: the parameter (for
    # GraphQL, the variable) the cursor goes in
    param: str = ""
    path: str = ""  # cursor: dotted path to the next cursor; link: dotted path to the next URL ("" = Link header)
    has_next: str = ""  # cursor: dotted path to a "has next page" boolean (GraphQL's pageInfo.hasNextPage)
    start: int = 1  # page: the first page's number
    max_pages: int = 1000


@dataclass(frozen=True)
class Incremental:
    """`[sources.<name>.incremental]`: pull only what changed since the last pull."""

    cursor_field: str  # dotted path in each record
    param: str  # the query parameter (GraphQL: the variable) sent as >= the last value
    initial: str | int | float | None = None  # the first pull's value (None: the first pull takes all)
    lookback: float = 0.0  # re-read this much before the last value (seconds, or units of a numeric cursor)
    lookback_text: str = ""
    end_param: str = ""  # optional: a parameter sent the upper bound fixed when the pull starts
    lookback_is_duration: bool = False  # written as "2h" (for a time cursor), not as a number


@dataclass(frozen=True)
class Auth:
    """`auth = { type = "basic", ... }` or `{ type = "oauth2_client_credentials", ... }`; values
    as written (placeholders unresolved)."""

    type: str  # basic | oauth2_client_credentials
    username: str = ""
    password: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scope: str = ""
    client_auth: str = "basic"  # oauth2: the client's credentials as HTTP Basic, or in the form body ("post")


def parse_every(text: str) -> float | None:
    """Seconds in a duration like "30s", "15m", "1h", "1d" or "1h30m"; None if it is not one."""
    match = EVERY_RE.match(text)
    if not match or not any(match.groups()):
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return float(((d * 24 + h) * 60 + m) * 60 + s)


PATH_RE = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
GRAPHQL_VARIABLE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")

_PAGINATION_KEYS = {
    "page": ("type", "param", "start", "max_pages"),
    "offset": ("type", "param", "start", "max_pages"),
    "cursor": ("type", "param", "path", "has_next", "max_pages"),
    "link": ("type", "path", "max_pages"),
}
_INCREMENTAL_KEYS = ("cursor_field", "param", "initial", "lookback", "end_param")
_AUTH_KEYS = {
    "basic": ("type", "username", "password"),
    "oauth2_client_credentials": ("type", "token_url", "client_id", "client_secret", "scope", "client_auth"),
}


def is_path(text: str, empty: bool = False) -> bool:
    """A dotted path like "data" or "result.items" ("" only when `empty`)."""
    return (empty and text == "") or bool(PATH_RE.match(text))


def string_table(raw: Any, key: str, bad: Bad, numbers: bool) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise bad(key, 'must be a table like { Name = "value" }')
    out: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool) and numbers:
            value = "true" if value else "false"
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and numbers:
            value = str(value)
        if not isinstance(value, str):
            kinds = "a string or a number" if numbers else "a string"
            raise bad(f"{key}.{name}", f"must be {kinds} (${{VAR}} reads the environment), not {type(value).__name__}")
        if (why := check_template(value)) is not None:
            raise bad(f"{key}.{name}", why)
        out[str(name)] = value
    return out


def _unknown(raw: dict[str, Any], allowed: tuple[str, ...], key: str, what: str, bad: Bad) -> None:
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise bad(f"{key}.{unknown[0]}", f"is not a setting of {what} (expected one of: {', '.join(allowed)})")


def _typed(raw: Any, key: str, bad: Bad, settings: dict[str, tuple[str, ...]], what: str) -> str:
    """A sub-table chosen by its `type` (pagination, auth): the type, once the table is a table,
    the type one of `settings` and every key one of that type's settings."""
    types = ", ".join(f'"{t}"' for t in settings)
    types = " or ".join(types.rsplit(", ", 1))
    if not isinstance(raw, dict):
        raise bad(key, f"must be a table with type = {types}")
    kind = raw.get("type")
    if kind not in settings:
        raise bad(f"{key}.type", f"must be {types}, not {kind!r}")
    _unknown(raw, settings[kind], key, f"{kind} {what}", bad)
    return str(kind)


def pagination(raw: Any, key: str, bad: Bad, kind: str = "http", records: str = "") -> Pagination | None:
    if raw is None:
        return None
    ptype = _typed(raw, key, bad, _PAGINATION_KEYS, "pagination")
    if kind == "graphql" and ptype != "cursor":
        raise bad(f"{key}.type", 'must be "cursor" for a graphql source (pageInfo { endCursor hasNextPage })')
    max_pages = raw.get("max_pages", 1000)
    if not isinstance(max_pages, int) or isinstance(max_pages, bool) or not 1 <= max_pages <= 1_000_000:
        raise bad(f"{key}.max_pages", f"must be a whole number from 1 to 1,000,000, not {max_pages!r}")
    default_param = {"page": "page", "offset": "offset"}.get(ptype, "after" if kind == "graphql" else "cursor")
    param = raw.get("param", default_param)
    if not isinstance(param, str) or not param:
        raise bad(f"{key}.param", f"must be the name of a query parameter, not {param!r}")
    if kind == "graphql" and not GRAPHQL_VARIABLE.match(param):
        raise bad(f"{key}.param", f"must be the name of a variable of the query (without $), not {param!r}")
    path = raw.get("path", "")
    has_next = raw.get("has_next", "")
    if kind == "graphql" and not path:
        # Relay: the records at `<x>.nodes` or `<x>.edges`, the page's info at `<x>.pageInfo`.
        parent = records.rsplit(".", 1)[0] if records.endswith((".nodes", ".edges")) else ""
        if not parent:
            raise bad(f"{key}.path", 'must be the dotted path to endCursor, like "data.issues.pageInfo.endCursor"')
        path = f"{parent}.pageInfo.endCursor"
        has_next = has_next or f"{parent}.pageInfo.hasNextPage"
    if not isinstance(path, str) or (ptype == "cursor" and not is_path(path)):
        what = "the next cursor" if ptype == "cursor" else "the next page's URL"
        raise bad(f"{key}.path", f'must be the dotted path to {what} in the response, like "meta.next"')
    if not isinstance(has_next, str) or not is_path(has_next, empty=True):
        raise bad(
            f"{key}.has_next", f'must be the dotted path to a boolean, like "pageInfo.hasNextPage", not {has_next!r}'
        )
    start = raw.get("start", 0 if ptype == "offset" else 1)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise bad(f"{key}.start", f"must be the first page's number or offset (0 or more), not {start!r}")
    return Pagination(ptype, param=param, path=path, has_next=has_next, start=start, max_pages=max_pages)


def incremental(raw: Any, key: str, bad: Bad) -> Incremental | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad(key, 'must be a table with cursor_field = "updated_at" and param = "since"')
    _unknown(raw, _INCREMENTAL_KEYS, key, "incremental", bad)
    field = raw.get("cursor_field")
    if not isinstance(field, str) or not is_path(field):
        raise bad(
            f"{key}.cursor_field",
            f'must be the dotted path of the cursor in each record, like "updated_at", not {field!r}',
        )
    param = raw.get("param")
    if not isinstance(param, str) or not param.strip():
        raise bad(f"{key}.param", "must be the query parameter (graphql: the variable) the last value is sent in")
    end_param = raw.get("end_param", "")
    if not isinstance(end_param, str):
        raise bad(f"{key}.end_param", f"must be the name of a query parameter, not {end_param!r}")
    initial = raw.get("initial")
    if initial is not None and (isinstance(initial, bool) or not isinstance(initial, (str, int, float))):
        raise bad(f"{key}.initial", f"must be the first pull's value, a string or a number, not {initial!r}")
    look = raw.get("lookback", 0)
    if isinstance(look, str):
        seconds = parse_every(look)
        if seconds is None:
            raise bad(
                f"{key}.lookback", f'must be a duration like "2h" (or a number, for a numeric cursor), not {look!r}'
            )
        lookback, text = seconds, look
    elif isinstance(look, (int, float)) and not isinstance(look, bool) and look >= 0:
        lookback, text = float(look), str(look)
    else:
        raise bad(f"{key}.lookback", f'must be a duration like "2h" or a number 0 or more, not {look!r}')
    return Incremental(field, param, initial, lookback, text if lookback else "", end_param, isinstance(look, str))


def primary_key(raw: Any, key: str, bad: Bad) -> tuple[str, ...]:
    if raw is None:
        return ()
    keys = [raw] if isinstance(raw, str) else raw
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and is_path(k) for k in keys):
        raise bad(key, f'must be a field ("id") or a list of them (["org", "id"]), dotted paths allowed, not {raw!r}')
    return tuple(keys)


def auth(raw: Any, key: str, bad: Bad) -> Auth | None:
    if raw is None:
        return None
    kind = _typed(raw, key, bad, _AUTH_KEYS, "auth")
    values: dict[str, str] = {}
    for name in _AUTH_KEYS[kind][1:]:
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise bad(f"{key}.{name}", f"must be a string (${{VAR}} reads the environment), not {type(value).__name__}")
        if (why := check_template(value)) is not None:
            raise bad(f"{key}.{name}", why)
        values[name] = value
    required = ("username", "password") if kind == "basic" else ("token_url", "client_id", "client_secret")
    for name in required:
        if not values[name]:
            raise bad(f"{key}.{name}", f"is required for {kind} auth")
    secret = "password" if kind == "basic" else "client_secret"
    if "${" not in values[secret]:
        raise bad(
            f"{key}.{secret}", 'must come from the environment, like "${API_SECRET}": rat.toml is no place for it'
        )
    if kind == "oauth2_client_credentials" and values.get("client_auth", "basic") not in ("", "basic", "post"):
        raise bad(f"{key}.client_auth", f'must be "basic" or "post", not {values["client_auth"]!r}')
    if kind == "oauth2_client_credentials" and not re.match(r"^(https?://[^/\s?#]+|\$\{)", values["token_url"]):
        raise bad(f"{key}.token_url", "must start with http:// or https:// and a host")
    if kind == "oauth2_client_credentials":
        values["client_auth"] = values.get("client_auth") or "basic"
    return Auth(type=kind, **values)


def graphql(spec: dict[str, Any], key: str, bad: Bad) -> tuple[str, dict[str, Any]]:
    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad(f"{key}.query", "must be the GraphQL query document (a multi-line string: query = '''...''')")
    variables = spec.get("variables", {})
    if not isinstance(variables, dict):
        raise bad(f"{key}.variables", "must be a table of the query's variables, like { first = 100 }")
    for name, value in variables.items():
        if not GRAPHQL_VARIABLE.match(name):
            raise bad(f"{key}.variables.{name}", "is not a GraphQL variable name")
        if isinstance(value, str) and (why := check_template(value)) is not None:
            raise bad(f"{key}.variables.{name}", why)
    return query, dict(variables)


def schedule(spec: dict[str, Any], key: str, bad: Bad) -> tuple[str, str]:
    """`schedule` (cron) and its `timezone`, checked; ("", "UTC") when the source uses `every`."""
    from rat_tui.engine.schedule import ScheduleError, parse_schedule, zone_of

    text, zone = spec.get("schedule", ""), spec.get("timezone", "UTC")
    if not isinstance(zone, str):
        raise bad(f"{key}.timezone", f'must be a time zone name like "Europe/Berlin", not {zone!r}')
    try:
        zone_of(zone)
    except ScheduleError as exc:
        raise bad(f"{key}.timezone", str(exc)) from None
    if text == "":
        return "", zone
    if "every" in spec:
        raise bad(f"{key}.schedule", "and every both say when to pull: keep one of them")
    if not isinstance(text, str):
        raise bad(f"{key}.schedule", f'must be a cron schedule like "*/15 * * * *", not {text!r}')
    try:
        parse_schedule(text, zone)
    except ScheduleError as exc:
        raise bad(f"{key}.schedule", str(exc)) from None
    return text, zone
