"""A database source (`type = "postgres"`; MySQL/MariaDB to come): its connection and its tables,
each pulled by snapshot or incrementally into `bronze.<source>_<table>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rat_tui.engine.sources.spec_parts import Bad, parse_every, schedule, string_table

TABLE_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_$]*)\.([A-Za-z_][A-Za-z0-9_$]*)$")
MODES = ("snapshot", "incremental")
TABLE_KEYS = ("mode", "cursor", "primary_key")
DB_KEYS = (
    "type", "dsn", "host", "port", "user", "password", "database", "tables", "every", "schedule", "timezone",
)  # fmt: skip


@dataclass(frozen=True)
class DbTable:
    name: str  # schema.table, as in the database
    mode: str = "snapshot"
    cursor: str = ""  # incremental: the column that only grows (updated_at, id)
    primary_key: tuple[str, ...] = ()  # () = read from the catalog

    @property
    def bronze(self) -> str:
        return self.name.split(".", 1)[1].lower()


@dataclass(frozen=True)
class DbSource:
    name: str
    type: str  # postgres
    dsn: str = ""  # a URL, usually "${SHOP_DSN}"; else the parts below
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = ""
    password: str = ""
    database: str = ""
    tables: tuple[DbTable, ...] = ()
    every: float = 3600.0
    every_text: str = "1h"
    schedule: str = ""
    timezone: str = "UTC"
    incremental: None = None  # the HTTP sources' setting: a database table has its own mode

    def table_of(self, t: DbTable) -> str:
        return f"bronze.{self.name}_{t.bronze}"

    @property
    def table(self) -> str:
        return ", ".join(self.table_of(t) for t in self.tables)

    @property
    def display_url(self) -> str:
        """Where it reads, without a password: the dsn as written (a ${VAR}), or host and database."""
        if self.dsn:
            return self.dsn if self.dsn.startswith("${") else re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", self.dsn)
        return f"{self.type}://{self.user + '@' if self.user else ''}{self.host}:{self.port}/{self.database}"


def parse_db(name: str, spec: dict[str, Any], key: str, bad: Bad) -> DbSource:
    unknown = [k for k in spec if k not in DB_KEYS]
    if unknown:
        raise bad(
            f"{key}.{unknown[0]}",
            f"is not a setting of a {spec['type']} source (expected one of: {', '.join(DB_KEYS)})",
        )
    strings = string_table(
        {k: spec.get(k, "") for k in ("dsn", "host", "user", "password", "database")}, key, bad, numbers=False
    )
    if not strings["dsn"] and not strings["database"]:
        raise bad(key, 'needs dsn = "${SHOP_DSN}" (a postgresql:// URL) or host, user and database')
    if strings["password"] and "${" not in strings["password"]:
        raise bad(
            f"{key}.password", 'must come from the environment, like "${SHOP_PASSWORD}": rat.toml is no place for it'
        )
    if re.search(r"//[^:/@]+:[^@$]+@", strings["dsn"]):
        raise bad(f"{key}.dsn", 'holds a password: put the whole URL in the environment, dsn = "${SHOP_DSN}"')
    port = spec.get("port", 5432)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise bad(f"{key}.port", f"must be a port number, not {port!r}")
    every_text = spec.get("every", "1h")
    every = parse_every(every_text) if isinstance(every_text, str) else None
    if every is None or every < 1:
        raise bad(f"{key}.every", f'must be a duration like "30s", "15m", "1h" or "1d", not {every_text!r}')
    cron, zone = schedule(spec, key, bad)
    return DbSource(
        name=name,
        type=spec["type"],
        port=port,
        tables=_tables(spec.get("tables"), f"{key}.tables", bad),
        every=every,
        every_text=cron or every_text,
        schedule=cron,
        timezone=zone,
        dsn=strings["dsn"],
        host=strings["host"] or "127.0.0.1",
        user=strings["user"],
        password=strings["password"],
        database=strings["database"],
    )


def _tables(raw: Any, key: str, bad: Bad) -> tuple[DbTable, ...]:
    """`tables = ["public.orders", ...]`, or a table per name with its mode, cursor, primary_key."""
    if isinstance(raw, list):
        raw = {name: {} for name in raw} if all(isinstance(n, str) for n in raw) else None
    if not isinstance(raw, dict) or not raw:
        raise bad(key, 'must list the tables to pull, like tables = ["public.orders"]')
    out: list[DbTable] = []
    for name, settings in raw.items():
        where = f'{key}."{name}"'
        if not TABLE_RE.match(name):
            raise bad(where, "must name a table with its schema, like public.orders")
        if not isinstance(settings, dict):
            raise bad(where, "must be a table of its settings: mode, cursor, primary_key")
        unknown = [k for k in settings if k not in TABLE_KEYS]
        if unknown:
            raise bad(f"{where}.{unknown[0]}", f"is not a table setting (expected one of: {', '.join(TABLE_KEYS)})")
        mode = settings.get("mode", "snapshot")
        if mode not in MODES:
            raise bad(
                f"{where}.mode",
                f'must be "snapshot" or "incremental" (change data capture is not built yet), not {mode!r}',
            )
        cursor = settings.get("cursor", "")
        if mode == "incremental" and (not isinstance(cursor, str) or not cursor):
            raise bad(f"{where}.cursor", 'is the column an incremental pull follows, like cursor = "updated_at"')
        pk = settings.get("primary_key", [])
        pk = [pk] if isinstance(pk, str) else pk
        if not isinstance(pk, list) or not all(isinstance(c, str) for c in pk):
            raise bad(f"{where}.primary_key", f"must be a column or a list of them, not {pk!r}")
        out.append(DbTable(name, mode, cursor, tuple(pk)))
    bronzes = [t.bronze for t in out]
    if len(set(bronzes)) != len(bronzes):
        raise bad(key, "two tables of different schemas share a name; their bronze tables would be one")
    return tuple(out)
