"""What a source is: `[sources.<name>]` of rat.toml parsed and validated into a specification.

The workspace reads only this module; pulling lives in `pulling` and in one module per kind of
source. A new kind adds its parser to PARSERS here and its module to `pulling.PULLERS`. The
parsers of a source's sub-tables (pagination, incremental, auth) are in `spec_parts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rat_tui.engine.sources import spec_parts as parts
from rat_tui.engine.sources.db_spec import DbSource, parse_db
from rat_tui.engine.sources.secrets import check_template
from rat_tui.engine.sources.spec_parts import Auth, Bad, Incremental, Pagination, parse_every

__all__ = ["Auth", "DbSource", "HttpSource", "Incremental", "Pagination", "Source", "parse_every", "parse_sources"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class HttpSource:
    """One `[sources.<name>]` of type http or graphql, as written (placeholders unresolved)."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    records: str = ""  # dotted path to the list of records in the body; "" = the body is the list
    every: float = 3600.0  # seconds between pulls in `rat watch`
    every_text: str = "1h"
    schedule: str = ""  # cron, instead of `every` (see engine/schedule.py)
    timezone: str = "UTC"  # the schedule's time zone
    timeout: float = 30.0
    retries: int = 3
    pagination: Pagination | None = None
    type: str = "http"  # http | graphql
    primary_key: tuple[str, ...] = ()  # dotted paths; every record must have them
    incremental: Incremental | None = None
    auth: Auth | None = None
    rate_limit: float = 0.0  # requests per second at most (0: no limit)
    query: str = ""  # graphql: the query document
    variables: dict[str, Any] = field(default_factory=dict)  # graphql: its variables (strings may hold ${VAR})

    @property
    def table(self) -> str:
        return f"bronze.{self.name}"

    @property
    def display_url(self) -> str:
        """The URL as configured, without its query: safe to print and store."""
        return self.url.split("?", 1)[0].split("#", 1)[0]


_COMMON_KEYS = (
    "type",
    "url",
    "headers",
    "records",
    "every",
    "schedule",
    "timezone",
    "timeout",
    "retries",
    "pagination",
    "primary_key",
    "incremental",
    "auth",
    "rate_limit",
)
_SOURCE_KEYS = {"http": (*_COMMON_KEYS, "params"), "graphql": (*_COMMON_KEYS, "query", "variables")}


def parse_sources(raw: Any, bad: Bad) -> dict[str, Source]:
    """The `[sources]` table of rat.toml, validated; `bad(key, why)` makes the one-line error.
    Placeholders are only checked here, never resolved: a value from the environment is read
    at pull time and kept nowhere."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad("sources", "must be a table: [sources.<name>]")
    out: dict[str, Source] = {}
    for name, spec in raw.items():
        key = f"sources.{name}"
        if not NAME_RE.match(name):
            raise bad(
                key, "needs a name of lower-case letters, digits and _ starting with a letter (it names bronze.<name>)"
            )
        if not isinstance(spec, dict):
            raise bad(key, f'must be a table: [sources.{name}] with type = "http" and a url')
        kind = spec.get("type")
        parser = PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None or not isinstance(kind, str):
            kinds = " or ".join(f'"{k}"' for k in PARSERS)
            raise bad(f"{key}.type", f"must be {kinds} (the kinds of source so far), not {kind!r}")
        allowed = _SOURCE_KEYS.get(kind, ())
        unknown = [k for k in spec if k not in allowed] if allowed else []  # a database source checks its own
        if unknown:
            raise bad(
                f"{key}.{unknown[0]}", f"is not a source setting of type {kind} (expected one of: {', '.join(allowed)})"
            )
        out[name] = parser(name, spec, key, bad)
    return out


def _parse_http(name: str, spec: dict[str, Any], key: str, bad: Bad) -> HttpSource:
    url = spec.get("url")
    if not isinstance(url, str) or not url.strip():
        raise bad(f"{key}.url", 'must be the URL to pull, like "https://api.example.com/orders"')
    if not url.startswith("${") and not re.match(r"^https?://[^/\s?#]+", url):
        raise bad(f"{key}.url", "must start with http:// or https:// and a host")
    if (why := check_template(url)) is not None:
        raise bad(f"{key}.url", why)
    headers = parts.string_table(spec.get("headers", {}), f"{key}.headers", bad, numbers=False)
    params = parts.string_table(spec.get("params", {}), f"{key}.params", bad, numbers=True)
    records = spec.get("records", "")
    if not isinstance(records, str) or not parts.is_path(records, empty=True):
        raise bad(
            f"{key}.records",
            f'must be a dotted path like "data" or "result.items" ("" = the body is the list), not {records!r}',
        )
    every_text = spec.get("every", "1h")
    every = parse_every(every_text) if isinstance(every_text, str) else None
    if every is None or every < 1:
        raise bad(f"{key}.every", f'must be a duration like "30s", "15m", "1h" or "1d", not {every_text!r}')
    schedule, timezone = parts.schedule(spec, key, bad)
    if schedule:
        every_text = schedule
    timeout = spec.get("timeout", 30)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
        raise bad(f"{key}.timeout", f"must be a number of seconds from 0 to 600, not {timeout!r}")
    retries = spec.get("retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
        raise bad(f"{key}.retries", f"must be a whole number from 0 to 10, not {retries!r}")
    rate = spec.get("rate_limit", 0)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 10_000:
        raise bad(f"{key}.rate_limit", f"must be requests per second (a number, 0 = no limit), not {rate!r}")
    kind = spec["type"]
    query, variables = "", dict[str, Any]()
    if kind == "graphql":
        query, variables = parts.graphql(spec, key, bad)
    return HttpSource(
        name=name,
        url=url,
        headers=headers,
        params=params,
        records=records,
        every=every,
        every_text=every_text,
        schedule=schedule,
        timezone=timezone,
        timeout=float(timeout),
        retries=retries,
        pagination=parts.pagination(spec.get("pagination"), f"{key}.pagination", bad, kind, records),
        type=kind,
        primary_key=parts.primary_key(spec.get("primary_key"), f"{key}.primary_key", bad),
        incremental=parts.incremental(spec.get("incremental"), f"{key}.incremental", bad),
        auth=parts.auth(spec.get("auth"), f"{key}.auth", bad),
        rate_limit=float(rate),
        query=query,
        variables=variables,
    )


Source = HttpSource | DbSource

# The parser of each kind of source (`type = "..."`): (name, its table, its key, bad) -> a spec.
PARSERS: dict[str, Callable[[str, dict[str, Any], str, Bad], Source]] = {
    "http": _parse_http,
    "graphql": _parse_http,
    "postgres": parse_db,
}
