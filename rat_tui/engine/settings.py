"""The settings of rat.toml, declared once: key, type, default, range and help. Validation and
defaults are made from SETTINGS; tests/test_settings_declared.py checks that every key is in the
file `rat init` writes and in the README. (Sources and landing options have their own modules.)"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MEMORY_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)\s*$", re.IGNORECASE)
TABLES = ("watch", "workbench", "serve")  # the settings' [tables]


def default_memory_limit() -> str:
    """Half the machine's RAM: DuckDB spills past it, and the UI and polars keep room."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(1, total // 2 // 2**20)}MB"


@dataclass(frozen=True)
class Setting:
    key: str  # as written in rat.toml: "memory_limit", "watch.settle_seconds"
    attr: str  # the Settings field it fills
    kind: str  # text | size | count | seconds | flag
    default: Any  # a value, or a function of nothing (memory_limit: half the RAM)
    low: float | None = None
    high: float | None = None
    unit: str = ""  # what a count counts ("rows")
    optional: bool = False  # None is a value (threads: DuckDB decides)
    above: bool = False  # the value must be above `low`, not equal to it
    help: str = ""

    def value(self, raw: dict[str, Any], bad: Callable[[str, str], Exception]) -> Any:
        table, _, leaf = self.key.rpartition(".")
        section = raw.get(table, {}) if table else raw
        if leaf not in section:
            default = self.default() if callable(self.default) else self.default
            return default
        v = section[leaf]
        if self.optional and v is None:
            return None
        if not self._fits(v):
            raise bad(self.key, self._why(v))
        if self.kind == "size":
            return v.replace(" ", "")
        return float(v) if self.kind == "seconds" else v

    def _fits(self, v: Any) -> bool:
        if self.kind == "text":
            return isinstance(v, str) and bool(v.strip())
        if self.kind == "size":
            return isinstance(v, str) and bool(_MEMORY_RE.match(v))
        if self.kind == "flag":
            return isinstance(v, bool)
        number = (int,) if self.kind == "count" else (int, float)
        if not isinstance(v, number) or isinstance(v, bool):
            return False
        low_ok = self.low is None or (v > self.low if self.above else v >= self.low)
        return low_ok and (self.high is None or v <= self.high)

    def _why(self, v: Any) -> str:
        if self.kind == "text":
            return "must be a non-empty string"
        if self.kind == "size":
            return f'must be a size like "4GB" or "512MB", not {v!r}'
        if self.kind == "flag":
            return f"must be true or false, not {v!r}"
        if self.high is None:
            return f"must be a positive integer, not {v!r}"
        what = "seconds" if self.kind == "seconds" else self.unit
        grouped = self.kind == "count"  # "100,000,000 rows" but "3600 seconds", as the messages always said
        return (
            f"must be a number of {what} from {_number(self.low, grouped)} to {_number(self.high, grouped)}, not {v!r}"
        )


def _number(x: float | None, grouped: bool) -> str:
    if x is not None and float(x).is_integer():
        return f"{int(x):,}" if grouped else str(int(x))
    return f"{x:g}"


SETTINGS: tuple[Setting, ...] = (
    Setting("name", "name", "text", None, help="the workspace's name (default: its folder's)"),
    Setting("memory_limit", "memory_limit", "size", default_memory_limit,
            help="memory DuckDB may use before it spills to .rat/tmp/ (default: half the RAM)"),
    Setting("threads", "threads", "count", None, low=1, optional=True,
            help="DuckDB's worker threads (default: one per core)"),
    Setting("state_timeout", "state_timeout", "seconds", 30.0, low=0, high=3600, above=True,
            help="seconds to wait for .rat/state.sqlite while another process holds it locked"),
    Setting("watch.polling", "watch_polling", "flag", False, help="poll instead of file events (network mounts)"),
    Setting("watch.settle_seconds", "settle_seconds", "seconds", 0.3, low=0, high=600,
            help="how long a dropped file's size and mtime must hold before it is taken"),
    Setting("workbench.fetch_limit", "fetch_limit", "count", 100_000, low=1, high=100_000_000, unit="rows",
            help="rows of a result the workbench's grid holds at most"),
    Setting("serve.host", "serve_host", "text", "127.0.0.1",
            help="the address `rat serve` binds (any but loopback needs a token)"),
    Setting("serve.port", "serve_port", "count", 8642, low=1, high=65535, unit="port",
            help="the port `rat serve` listens on"),
    Setting("serve.token", "serve_token", "text", None, optional=True,
            help='the bearer token `rat serve` requires: "${VAR}" reads it from the environment'),
    Setting("serve.max_queries", "serve_max_queries", "count", 4, low=1, high=256, unit="queries",
            help="queries `rat serve` runs at once; more are answered 503"),
    Setting("serve.max_sessions", "serve_max_sessions", "count", 4, low=1, high=64, unit="sessions",
            help="browser workbench sessions at once; more are answered 503"),
    Setting("serve.query_timeout", "serve_query_timeout", "seconds", 300.0, low=0, high=86400, above=True,
            help="a query's longest run when its request names no timeout_s (answered 408 past it)"),
)  # fmt: skip


def read(raw: dict[str, Any], bad: Callable[[str, str], Exception], folder_name: str) -> dict[str, Any]:
    """The declared settings' values from a parsed rat.toml (defaults filled in), by Settings field."""
    for table in TABLES:
        if not isinstance(raw.get(table, {}), dict):
            raise bad(table, f"must be a table: [{table}]")
    values = {s.attr: s.value(raw, bad) for s in SETTINGS}
    if values["name"] is None:
        values["name"] = folder_name
    return values
