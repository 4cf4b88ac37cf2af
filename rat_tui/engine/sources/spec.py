"""What a source is: `[sources.<name>]` of rat.toml parsed and validated into a specification.

The workspace reads only this module; pulling lives in `pulling` and in one module per kind of
source. A new kind adds its parser to PARSERS here and its module to `pulling.PULLERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rat_tui.engine.sources.secrets import check_template

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EVERY_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
PAGINATION_TYPES = ("page", "cursor", "link")


@dataclass(frozen=True)
class Pagination:
    type: str  # page | cursor | link
    param: str = ""  # page: the page number's query parameter; cursor: the parameter the cursor goes in
    path: str = ""  # cursor: dotted path to the next cursor; link: dotted path to the next URL ("" = Link header)
    start: int = 1  # page: the first page's number
    max_pages: int = 1000


@dataclass(frozen=True)
class HttpSource:
    """One `[sources.<name>]` of type http, as written (placeholders unresolved)."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    records: str = ""  # dotted path to the list of records in the body; "" = the body is the list
    every: float = 3600.0  # seconds between pulls in `rat watch`
    every_text: str = "1h"
    timeout: float = 30.0
    retries: int = 3
    pagination: Pagination | None = None
    type: str = "http"

    @property
    def table(self) -> str:
        return f"bronze.{self.name}"

    @property
    def display_url(self) -> str:
        """The URL as configured, without its query: safe to print and store."""
        return self.url.split("?", 1)[0].split("#", 1)[0]


def parse_every(text: str) -> float | None:
    """Seconds in a duration like "30s", "15m", "1h", "1d" or "1h30m"; None if it is not one."""
    match = EVERY_RE.match(text)
    if not match or not any(match.groups()):
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return float(((d * 24 + h) * 60 + m) * 60 + s)


_SOURCE_KEYS = ("type", "url", "headers", "params", "records", "every", "timeout", "retries", "pagination")
_PAGINATION_KEYS = {
    "page": ("type", "param", "start", "max_pages"),
    "cursor": ("type", "param", "path", "max_pages"),
    "link": ("type", "path", "max_pages"),
}


def parse_sources(raw: Any, bad: Callable[[str, str], Exception]) -> dict[str, HttpSource]:
    """The `[sources]` table of rat.toml, validated; `bad(key, why)` makes the one-line error.
    Placeholders are only checked here, never resolved: a value from the environment is read
    at pull time and kept nowhere."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad("sources", "must be a table: [sources.<name>]")
    out: dict[str, HttpSource] = {}
    for name, spec in raw.items():
        key = f"sources.{name}"
        if not NAME_RE.match(name):
            raise bad(
                key, "needs a name of lower-case letters, digits and _ starting with a letter (it names bronze.<name>)"
            )
        if not isinstance(spec, dict):
            raise bad(key, f'must be a table: [sources.{name}] with type = "http" and a url')
        unknown = [k for k in spec if k not in _SOURCE_KEYS]
        if unknown:
            raise bad(f"{key}.{unknown[0]}", f"is not a source setting (expected one of: {', '.join(_SOURCE_KEYS)})")
        kind = spec.get("type")
        parser = PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            kinds = " or ".join(f'"{k}"' for k in PARSERS)
            so_far = "the only kind of source so far" if len(PARSERS) == 1 else "the kinds of source so far"
            raise bad(f"{key}.type", f"must be {kinds} ({so_far}), not {kind!r}")
        out[name] = parser(name, spec, key, bad)
    return out


def _parse_http(name: str, spec: dict[str, Any], key: str, bad: Callable[[str, str], Exception]) -> HttpSource:
    url = spec.get("url")
    if not isinstance(url, str) or not url.strip():
        raise bad(f"{key}.url", 'must be the URL to pull, like "https://api.example.com/orders"')
    if not url.startswith("${") and not re.match(r"^https?://[^/\s?#]+", url):
        raise bad(f"{key}.url", "must start with http:// or https:// and a host")
    if (why := check_template(url)) is not None:
        raise bad(f"{key}.url", why)
    headers = _string_table(spec.get("headers", {}), f"{key}.headers", bad, numbers=False)
    params = _string_table(spec.get("params", {}), f"{key}.params", bad, numbers=True)
    records = spec.get("records", "")
    if not isinstance(records, str) or records.strip() != records or ".." in records or records.startswith("."):
        raise bad(
            f"{key}.records",
            f'must be a dotted path like "data" or "result.items" ("" = the body is the list), not {records!r}',
        )
    every_text = spec.get("every", "1h")
    every = parse_every(every_text) if isinstance(every_text, str) else None
    if every is None or every < 1:
        raise bad(f"{key}.every", f'must be a duration like "30s", "15m", "1h" or "1d", not {every_text!r}')
    timeout = spec.get("timeout", 30)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
        raise bad(f"{key}.timeout", f"must be a number of seconds from 0 to 600, not {timeout!r}")
    retries = spec.get("retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
        raise bad(f"{key}.retries", f"must be a whole number from 0 to 10, not {retries!r}")
    pagination = _pagination(spec.get("pagination"), f"{key}.pagination", bad)
    return HttpSource(
        name=name,
        url=url,
        headers=headers,
        params=params,
        records=records,
        every=every,
        every_text=every_text,
        timeout=float(timeout),
        retries=retries,
        pagination=pagination,
    )


def _string_table(raw: Any, key: str, bad: Callable[[str, str], Exception], numbers: bool) -> dict[str, str]:
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


def _pagination(raw: Any, key: str, bad: Callable[[str, str], Exception]) -> Pagination | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad(key, 'must be a table with type = "page", "cursor" or "link"')
    kind = raw.get("type")
    if kind not in PAGINATION_TYPES:
        raise bad(f"{key}.type", f'must be "page", "cursor" or "link", not {kind!r}')
    allowed = _PAGINATION_KEYS[kind]
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise bad(
            f"{key}.{unknown[0]}", f"is not a setting of {kind} pagination (expected one of: {', '.join(allowed)})"
        )
    max_pages = raw.get("max_pages", 1000)
    if not isinstance(max_pages, int) or isinstance(max_pages, bool) or not 1 <= max_pages <= 1_000_000:
        raise bad(f"{key}.max_pages", f"must be a whole number from 1 to 1,000,000, not {max_pages!r}")
    param = raw.get("param", "page" if kind == "page" else "cursor")
    if not isinstance(param, str) or not param:
        raise bad(f"{key}.param", f"must be the name of a query parameter, not {param!r}")
    path = raw.get("path", "")
    if not isinstance(path, str) or (kind == "cursor" and not path):
        what = "the next cursor" if kind == "cursor" else "the next page's URL"
        raise bad(f"{key}.path", f'must be the dotted path to {what} in the response, like "meta.next"')
    start = raw.get("start", 1)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise bad(f"{key}.start", f"must be the first page's number (0 or more), not {start!r}")
    return Pagination(kind, param=param, path=path, start=start, max_pages=max_pages)


# Pulling.


# The parser of each kind of source (`type = "..."`): (name, its table, its key, bad) -> a spec.
PARSERS: dict[str, Callable[[str, dict[str, Any], str, Callable[[str, str], Exception]], HttpSource]] = {
    "http": _parse_http,
}
