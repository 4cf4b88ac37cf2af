"""A Postgres source against the real server on 127.0.0.1:5432 (database test): snapshots and
incremental pulls straight into bronze, types as the module says, ties on the cursor across
pulls landing once. Skips when no server answers, except under CI=true."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import run_rat

psycopg = pytest.importorskip("psycopg", reason="the [databases] extra is not installed")
pytest.importorskip("adbc_driver_postgresql", reason="the [databases] extra is not installed")

DSN = "postgresql://postgres@127.0.0.1:5432/test"


def _server() -> bool:
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


if not _server():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but no PostgreSQL answers on 127.0.0.1:5432 (.ci/run starts it)")
    pytest.skip("no PostgreSQL on 127.0.0.1:5432", allow_module_level=True)


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"rat_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DSN, autocommit=True) as con:
        con.execute(f"create schema {name}")
    yield name
    with psycopg.connect(DSN, autocommit=True) as con:
        con.execute(f"drop schema {name} cascade")


def sql(statement: str) -> None:
    with psycopg.connect(DSN, autocommit=True) as con:
        con.execute(statement)


def configure(ws: Path, schema: str, tables: str) -> None:
    with open(ws / "rat.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[sources.shop]\ntype = "postgres"\ndsn = "${{SHOP_DSN}}"\n{tables.format(s=schema)}\n')


def pull(ws: Path, *args: str) -> None:
    done = run_rat("pull", "-w", str(ws), *args)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.fixture(autouse=True)
def _dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_DSN", DSN)


def test_a_snapshot_lands_every_type_as_documented(ws: Path, schema: str) -> None:
    sql(f"create type {schema}.mood as enum ('sad', 'happy')")
    sql(
        f"create table {schema}.kinds (id int primary key, n12 numeric(12,2), nfree numeric, ts timestamp,"
        f" tz timestamptz, d date, j json, jb jsonb, u uuid, a int[], e {schema}.mood, b bytea, t time, big bigint,"
        f" f float8, ok bool, note text)"
    )
    sql(
        f"insert into {schema}.kinds values (1, 1234567890.12, 3.141592653589793238, '2024-01-01 10:00',"
        " '2024-01-01 10:00+02', '2024-01-02', '{\"a\": 1}', '{\"b\": [1, 2]}', 'a0f499a5-4573-45b5-bda0-97bfcb785acb',"
        " '{1,2}', 'happy', '\\xdeadbeef', '10:11:12', 9007199254740993, 1.5, true, 'é'),"
        " (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)"
    )
    configure(ws, schema, f'tables = ["{schema}.kinds"]'.replace(schema, "{s}"))
    pull(ws)
    rows = pl.read_delta(str(ws / "lake" / "bronze" / "shop_kinds")).sort("id")
    first = rows.row(0, named=True)
    assert first["n12"] == Decimal("1234567890.12") and rows.schema["n12"] == pl.Decimal(12, 2)
    assert first["nfree"] == "3.141592653589793238"  # every digit, as text
    assert str(first["tz"]) == "2024-01-01 08:00:00+00:00" and first["u"] == "a0f499a5-4573-45b5-bda0-97bfcb785acb"
    assert first["jb"] == '{"b": [1, 2]}' and first["a"] == [1, 2] and first["e"] == "happy"
    assert first["b"] == b"\xde\xad\xbe\xef" and first["t"] == "10:11:12" and first["big"] == 9007199254740993
    assert first["note"] == "é" and first["_source_file"] == f"postgres:shop/{schema}.kinds"
    assert rows.row(1, named=True)["n12"] is None and rows.height == 2
    # A second snapshot is the table as it is now, as the next version.
    sql(f"delete from {schema}.kinds where id = 2")
    pull(ws)
    assert pl.read_delta(str(ws / "lake" / "bronze" / "shop_kinds")).height == 1


def test_incremental_pulls_land_ties_on_the_cursor_once(ws: Path, schema: str) -> None:
    sql(f"create table {schema}.orders (id int primary key, updated_at timestamptz, amount int)")
    sql(
        f"insert into {schema}.orders select g, timestamptz '2024-01-01' + (g / 100) * interval '1 hour', g from generate_series(1, 1000) g"
    )
    configure(ws, schema, '[sources.shop.tables."{s}.orders"]\nmode = "incremental"\ncursor = "updated_at"')
    pull(ws)
    path = str(ws / "lake" / "bronze" / "shop_orders")
    assert pl.read_delta(path).height == 1000
    # More rows on the newest value (the boundary), later ones, and an update.
    sql(
        f"insert into {schema}.orders select g, timestamptz '2024-01-01' + interval '10 hours', g from generate_series(1001, 1010) g"
    )
    sql(f"update {schema}.orders set amount = -1, updated_at = timestamptz '2024-01-02' where id = 5")
    pull(ws)
    rows = pl.read_delta(path)
    assert rows.height == 1011  # 10 new on the boundary, 1 update; the 1 tie landed before is dropped
    latest = rows.sort("updated_at").group_by("id").last().sort("id")
    with psycopg.connect(DSN) as con:
        source = con.execute(f"select id, amount from {schema}.orders order by id").fetchall()
    assert list(zip(latest["id"].to_list(), latest["amount"].to_list(), strict=True)) == source
    status = run_rat("status", "-w", str(ws)).stdout
    assert "source shop -> bronze.shop_orders" in status
    pull(ws)
    assert pl.read_delta(path).height == 1011  # nothing new: nothing landed


def test_a_bad_table_or_server_is_one_line(ws: Path, schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(ws, schema, 'tables = ["{s}.missing"]')
    done = run_rat("pull", "-w", str(ws))
    assert done.returncode == 1 and "no such table" in done.stderr and "Traceback" not in done.stderr
    monkeypatch.setenv("SHOP_DSN", "postgresql://postgres@127.0.0.1:1/test")
    done = run_rat("pull", "-w", str(ws))
    assert done.returncode == 1 and "cannot connect" in done.stderr and "Traceback" not in done.stderr
