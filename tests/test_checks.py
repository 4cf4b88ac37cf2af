"""Checks and write-audit-publish: a failing error check never reaches a reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import query, run_rat, write
from deltalake import DeltaTable

from rat_tui.engine.events import ModelFinished

HEADER = """/* rat
[checks]
{checks}
*/
select * from bronze.orders
"""


def shop(ws: Path, checks: str, rows: str = "1,a,10,new\n2,b,20,paid\n") -> None:
    write(ws / "landing" / "orders" / "1.csv", "id,customer,amount,status\n" + rows)
    write(ws / "landing" / "customers.csv", "customer\na\nb\n")
    write(ws / "models" / "silver" / "orders.sql", HEADER.format(checks=checks))


@pytest.mark.parametrize(
    ("checks", "bad_rows", "name", "failing"),
    [
        ('not_null = ["customer"]', "3,,5,new\n4,,6,new\n", "not_null(customer)", 2),
        ('unique = ["id"]', "1,c,5,new\n", "unique(id)", 1),
        ('accepted_values = { status = ["new", "paid"] }', "3,a,5,lost\n", "accepted_values(status)", 1),
        (
            'relationships = { column = "customer", to = "bronze.customers.customer" }',
            "3,zed,5,new\n",
            "relationships(customer -> bronze.customers.customer)",
            1,
        ),
        ('expression = "amount >= 0"', "3,a,-5,new\n", "expression(amount >= 0)", 1),
        ("row_count = { max = 2 }", "3,a,5,new\n", "row_count(max=2)", 0),
    ],
)
def test_each_check_kind_blocks_bad_data(ws: Path, engine, checks: str, bad_rows: str, name: str, failing: int) -> None:
    shop(ws, checks)
    assert engine().run().built == ["silver.orders"]
    before = query(engine(), "select * from silver.orders order by id")
    write(ws / "landing" / "orders" / "2.csv", "id,customer,amount,status\n" + bad_rows)
    report = engine().run()
    assert report.status == "failed" and "silver.orders" in report.failed
    assert f"check {name} failed" in report.failed["silver.orders"]
    # Nothing was published: readers see the same rows and the same version.
    assert query(engine(), "select * from silver.orders order by id") == before
    assert DeltaTable(str(ws / "lake" / "silver" / "orders")).version() == 0
    assert not [
        p
        for p in (ws / "lake" / "silver" / "orders").glob("*.parquet")
        if p.name not in {f.split("/")[-1] for f in DeltaTable(str(ws / "lake" / "silver" / "orders")).file_uris()}
    ]
    results = engine().state.check_results(report.run_id, "silver.orders")
    by_name = {r.name: r for r in results}
    assert by_name[name].status == "fail" and by_name[name].failing == failing
    if failing:
        assert by_name[name].sample, "a few failing rows are kept"


def test_warn_severity_publishes_and_reports(ws: Path, engine) -> None:
    shop(ws, 'not_null = { columns = ["customer"], severity = "warn" }', "1,,10,new\n")
    events = []
    e = engine()
    e.events.subscribe(events.append)
    report = e.run()
    assert report.built == ["silver.orders"] and report.status == "ok"
    finished = next(ev for ev in events if isinstance(ev, ModelFinished) and ev.model == "silver.orders")
    assert finished.status == "ok" and len(finished.warnings) == 1
    assert finished.warnings[0].startswith("check not_null(customer) failed: 1 row, e.g. {id=1, customer=NULL")


def test_custom_checks_file_reads_the_new_version(ws: Path, engine) -> None:
    shop(ws, "")
    write(
        ws / "models" / "silver" / "orders.checks.sql",
        "-- name: big orders need a paid status\nselect * from silver.orders where amount > 100 and status <> 'paid';\n"
        "-- name: at most one order per customer\n-- severity: warn\nselect customer from silver.orders group by 1 having count(*) > 1;\n",
    )
    assert engine().run().built == ["silver.orders"]
    write(ws / "landing" / "orders" / "2.csv", "id,customer,amount,status\n3,a,500,new\n")
    report = engine().run()
    assert "check big orders need a paid status failed: 1 row" in report.failed["silver.orders"]
    results = {r.name: r for r in engine().state.check_results(report.run_id)}
    assert results["at most one order per customer"].severity == "warn"
    assert results["at most one order per customer"].status == "fail"
    assert query(engine(), "select count(*) from silver.orders") == [(2,)]


def test_downstream_of_a_failed_check_is_skipped_and_other_models_build(ws: Path, engine) -> None:
    shop(ws, 'unique = ["id"]')
    write(ws / "models" / "gold" / "totals.sql", "select customer, sum(amount) as total from silver.orders group by 1")
    write(ws / "models" / "gold" / "customers.sql", "select * from bronze.customers")
    engine().run()
    write(ws / "landing" / "orders" / "2.csv", "id,customer,amount,status\n1,a,1,new\n")
    write(ws / "landing" / "customers2.csv", "customer\nc\n")
    report = engine().run()
    assert report.skipped == {"gold.totals": "upstream silver.orders failed its checks"}
    assert "gold.totals" not in report.failed
    status = {t.name: t.state for t in engine().status().tables}
    assert status["silver.orders"] == "check_failed" and status["gold.totals"] == "skipped"


def test_first_build_failing_its_checks_creates_no_table(ws: Path, engine) -> None:
    shop(ws, 'expression = "amount < 0"')
    report = engine().run()
    assert "silver.orders" in report.failed
    assert not (ws / "lake" / "silver" / "orders" / "_delta_log").exists()
    assert query(engine(), "select count(*) from information_schema.tables where table_schema = 'silver'") == [(0,)]


def test_view_checks_keep_the_previous_definition(ws: Path, engine) -> None:
    shop(ws, "")
    write(
        ws / "models" / "gold" / "v.sql",
        '/* rat\nmaterialized = "view"\n[checks]\nnot_null = ["id"]\n*/\nselect id from silver.orders',
    )
    assert "gold.v" in engine().run().built
    write(
        ws / "models" / "gold" / "v.sql",
        '/* rat\nmaterialized = "view"\n[checks]\nnot_null = ["id"]\n*/\nselect null::int as id from silver.orders',
    )
    report = engine().run()
    assert "check not_null(id) failed" in report.failed["gold.v"]
    assert query(engine(), "select count(*) from gold.v where id is not null") == [(2,)]


def test_cli_reports_the_check_and_exits_nonzero(ws: Path) -> None:
    shop(ws, 'unique = ["id"]', "1,a,10,new\n1,b,20,paid\n")
    proc = run_rat("run", "-w", str(ws))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED silver.orders"))
    assert (
        "check unique(id) failed: 1 row, e.g. {id=1, _count=2}" in line and "readers keep the last good version" in line
    )
