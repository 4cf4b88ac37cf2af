"""Builds: order, materializations, no needless work, failures that stay local, Delta commits."""

from __future__ import annotations

from pathlib import Path

from conftest import query, write
from deltalake import DeltaTable


def setup_shop(ws: Path) -> None:
    write(ws / "landing" / "orders" / "1.csv", "id,customer,amount\n1,a,10\n2,b,20\n3,a,5\n")
    write(ws / "models" / "silver" / "orders.sql", "select id, customer, amount::double as amount from bronze.orders")
    write(
        ws / "models" / "gold" / "by_customer.sql",
        '/* rat\nmaterialized = "table"\n*/\nselect customer, sum(amount) as total from silver.orders group by 1\n',
    )
    write(
        ws / "models" / "gold" / "top.sql",
        '/* rat\nmaterialized = "view"\n*/\nselect * from gold.by_customer order by total desc limit 1;\n',
    )


def test_builds_in_order_and_answers_queries(ws: Path, engine) -> None:
    setup_shop(ws)
    report = engine().run()
    assert report.status == "ok" and not report.failed
    assert report.built == ["silver.orders", "gold.by_customer", "gold.top"]
    e = engine()
    assert query(e, "select * from gold.by_customer order by 1") == [("a", 15.0), ("b", 20.0)]
    assert query(e, "select * from gold.top") == [("b", 20.0)]
    assert DeltaTable(str(ws / "lake" / "gold" / "by_customer")).version() == 0
    assert not (ws / "lake" / "gold" / "top").exists()  # a view is not a table


def test_second_run_is_a_noop_and_new_data_rebuilds_downstream(ws: Path, engine) -> None:
    setup_shop(ws)
    engine().run()
    again = engine().run()
    assert (
        again.status == "noop"
        and again.built == []
        and set(again.up_to_date) == {"silver.orders", "gold.by_customer", "gold.top"}
    )
    write(ws / "landing" / "orders" / "2.csv", "id,customer,amount\n4,b,1\n")
    third = engine().run()
    assert third.built == ["silver.orders", "gold.by_customer", "gold.top"]
    assert query(engine(), "select total from gold.by_customer where customer = 'b'") == [(21.0,)]
    assert DeltaTable(str(ws / "lake" / "gold" / "by_customer")).version() == 1


def test_changed_model_rebuilds_it_and_downstream_only(ws: Path, engine) -> None:
    setup_shop(ws)
    write(ws / "models" / "gold" / "other.sql", "select count(*) as n from silver.orders")
    engine().run()
    write(
        ws / "models" / "gold" / "by_customer.sql",
        "select customer, max(amount) as total from silver.orders group by 1",
    )
    report = engine().run()
    assert report.built == ["gold.by_customer", "gold.top"]
    assert "gold.other" in report.up_to_date and "silver.orders" in report.up_to_date


def test_full_refresh_and_selectors(ws: Path, engine) -> None:
    setup_shop(ws)
    engine().run()
    assert engine().run(["gold"], full_refresh=True).built == ["gold.by_customer", "gold.top"]
    assert engine().run(["+by_customer"], full_refresh=True).built == ["silver.orders", "gold.by_customer"]


def test_a_broken_model_keeps_its_last_version_and_skips_downstream_only(ws: Path, engine) -> None:
    setup_shop(ws)
    write(ws / "models" / "gold" / "count.sql", "select count(*) as n from silver.orders")
    engine().run()
    write(ws / "models" / "silver" / "orders.sql", "select id, no_such_column from bronze.orders")
    write(ws / "landing" / "orders" / "2.csv", "id,customer,amount\n9,c,1\n")
    report = engine().run()
    assert report.status == "failed"
    assert "models/silver/orders.sql" in report.failed["silver.orders"]
    assert "no_such_column" in report.failed["silver.orders"]
    assert set(report.skipped) == {"gold.by_customer", "gold.top", "gold.count"}
    assert report.skipped["gold.by_customer"] == "upstream silver.orders failed"
    assert report.ingested == ["orders/2.csv"]  # the good file still landed
    e = engine()
    assert query(e, "select count(*) from silver.orders") == [(3,)]  # last good version
    assert query(e, "select count(*) from bronze.orders") == [(4,)]
    status = {t["name"]: t for t in e.status().to_json()["tables"]}
    assert status["silver.orders"]["state"] == "failed" and "no_such_column" in status["silver.orders"]["error"]
    assert status["gold.count"]["state"] == "skipped"


def test_independent_models_build_despite_a_broken_one(ws: Path, engine) -> None:
    setup_shop(ws)
    write(ws / "models" / "gold" / "broken.sql", "select * from silver.orders where")
    write(ws / "models" / "gold" / "unknown.sql", "select * from bronze.nope")
    report = engine().run()
    assert set(report.failed) == {"gold.broken", "gold.unknown"}
    assert "syntax error" in report.failed["gold.broken"].lower()
    assert "bronze.nope" in report.failed["gold.unknown"]
    assert {"silver.orders", "gold.by_customer", "gold.top"} <= set(report.built)


def test_types_delta_cannot_hold_are_stored_in_the_nearest_type(ws: Path, engine) -> None:
    write(
        ws / "models" / "silver" / "types.sql",
        "select 1::utinyint as u8, 2::ubigint as u64, 3::hugeint as h, uuid() as id, interval 1 day as iv,"
        " time '10:00' as t, null as nothing, [1::uinteger] as lst, now()::timestamp_ns as ts",
    )
    report = engine().run()
    assert report.built == ["silver.types"], report.failed
    rows = query(engine(), "select typeof(columns(*)) from silver.types")
    assert rows == [
        (
            "INTEGER",
            "DECIMAL(38,0)",
            "DECIMAL(38,0)",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "TIMESTAMP",
        )
    ]


def test_duplicate_column_names_get_distinct_names_as_in_duckdb(ws: Path, engine) -> None:
    write(ws / "models" / "silver" / "dup.sql", "select 1 as a, 2 as a")
    assert engine().run().built == ["silver.dup"]
    assert [f.name for f in DeltaTable(str(ws / "lake" / "silver" / "dup")).schema().fields] == ["a", "a_1"]


def test_empty_result_is_an_empty_table(ws: Path, engine) -> None:
    write(ws / "models" / "silver" / "none.sql", "select 1 as id, 'x' as name where false")
    assert engine().run().built == ["silver.none"]
    assert query(engine(), "select count(*) from silver.none") == [(0,)]
    assert query(engine(), "select typeof(columns(*)) from (select * from silver.none union all select 2, 'y')") == [
        ("INTEGER", "VARCHAR")
    ]


def test_memory_limit_and_temp_dir_come_from_rat_toml(ws: Path, engine) -> None:
    (ws / "rat.toml").write_text('name = "t"\nmemory_limit = "300MB"\nthreads = 1\n')
    session = engine().query_session()
    try:
        settings = dict(
            session.con.execute(
                "select name, value from duckdb_settings() where name in ('memory_limit', 'temp_directory', 'threads')"
            ).fetchall()
        )
    finally:
        session.close()
    assert settings["threads"] == "1"
    assert settings["memory_limit"].startswith(("286", "300"))  # DuckDB prints MiB
    assert Path(settings["temp_directory"]) == (ws / ".rat" / "tmp").resolve()
