"""History, diff, rollback and vacuum, through the command line as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_rat, write


def ok(*args: str) -> str:
    proc = run_rat(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def shop(ws: Path) -> Path:
    write(ws / "landing" / "orders" / "1.csv", "id,status,amount\n1,new,10\n2,new,20\n3,paid,30\n")
    write(
        ws / "models" / "silver" / "orders.sql",
        '/* rat\n[checks]\nunique = ["id"]\n*/\nselect id, status, amount from bronze.orders '
        "qualify row_number() over (partition by id order by _batch_id desc) = 1",
    )
    ok("run", "-w", str(ws))
    write(ws / "landing" / "orders" / "2.csv", "id,status,amount\n2,paid,20\n4,new,40\n")
    ok("run", "-w", str(ws))
    return ws


def test_history_lists_versions_newest_first(shop: Path) -> None:
    versions = json.loads(ok("history", "-w", str(shop), "silver.orders", "--json"))
    assert [v["version"] for v in versions] == [1, 0]
    assert [v["rows"] for v in versions] == [4, 3]
    assert all(v["operation"] == "build" and v["run"] and v["timestamp"] for v in versions)
    bronze = json.loads(ok("history", "-w", str(shop), "bronze.orders", "--json"))
    assert [v["rows"] for v in bronze] == [5, 3] and bronze[0]["operation"].startswith("ingest")


def test_diff_by_key_counts_added_removed_changed(shop: Path) -> None:
    summary = json.loads(ok("diff", "-w", str(shop), "silver.orders", "--json"))
    assert summary["from"] == 0 and summary["to"] == 1 and summary["key"] == ["id"]
    assert (summary["added"], summary["removed"], summary["changed"]) == (1, 0, 1)
    rows = json.loads(ok("diff", "-w", str(shop), "silver.orders", "0", "1", "--rows", "--json"))["rows"]
    assert sorted((r["_change"], r["id"], r["status"]) for r in rows) == [("added", 4, "new"), ("changed", 2, "paid")]
    text = ok("diff", "-w", str(shop), "silver.orders")
    assert "silver.orders version 0 -> 1 (rows matched by id): 1 added, 0 removed, 1 changed" in text
    # Without a key (bronze), rows are compared whole.
    bronze = json.loads(ok("diff", "-w", str(shop), "bronze.orders", "--json"))
    assert (bronze["added"], bronze["removed"], bronze["key"]) == (2, 0, [])


def test_rollback_publishes_an_old_version_as_a_new_commit(shop: Path) -> None:
    proc = run_rat("rollback", "-w", str(shop), "silver.orders", "0")
    assert proc.returncode == 0 and "now version 2" in proc.stderr
    csv = ok("query", "-w", str(shop), "select id, status from silver.orders order by id", "--format", "csv")
    assert csv.split() == ["id,status", "1,new", "2,new", "3,paid"]
    versions = json.loads(ok("history", "-w", str(shop), "silver.orders", "--json"))
    assert versions[0]["version"] == 2 and versions[0]["operation"] == "rollback to 0" and versions[0]["rows"] == 3
    # The rolled-back table stays until something changes; new input then rebuilds it in full.
    assert "nothing to do" in run_rat("run", "-w", str(shop)).stderr
    write(shop / "landing" / "orders" / "3.csv", "id,status,amount\n5,new,50\n")
    ok("run", "-w", str(shop))
    assert ok("query", "-w", str(shop), "select count(*) as n from silver.orders", "--format", "csv").split() == [
        "n",
        "5",
    ]


def test_rollback_and_diff_errors_are_one_line(shop: Path) -> None:
    for args, needle in [
        (("rollback", "-w", str(shop), "silver.orders", "9"), "has no version 9"),
        (("rollback", "-w", str(shop), "silver.nope", "0"), "does not exist"),
        (("diff", "-w", str(shop), "silver.orders", "0", "7"), "has no version 7"),
        (("vacuum", "-w", str(shop), "--retain", "soon"), "not a duration"),
    ]:
        proc = run_rat(*args)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr and needle in proc.stderr, proc.stderr


def test_a_rollback_to_the_current_version_or_a_missing_one_is_refused_and_no_failed_run(shop: Path) -> None:
    # Found by a review: rolling back to the version a table is at gave "internal error: DeltaError",
    # and every refused rollback was recorded as a failed run.
    runs_before = json.loads(ok("status", "-w", str(shop), "--json"))["runs"]
    for version, needle in (("1", "is already at version 1: nothing to roll back"), ("9", "has no version 9")):
        proc = run_rat("rollback", "-w", str(shop), "silver.orders", version)
        assert proc.returncode == 1 and needle in proc.stderr, proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    runs_after = json.loads(ok("status", "-w", str(shop), "--json"))["runs"]
    assert [r["run_id"] for r in runs_after] == [r["run_id"] for r in runs_before]


def test_vacuum_keeps_the_current_version(shop: Path) -> None:
    table = shop / "lake" / "silver" / "orders"
    before = len(list(table.glob("*.parquet")))
    orphan = table / "part-crashed-000000000000.zstd.parquet"  # left by an interrupted build
    orphan.write_bytes(b"PAR1")
    proc = run_rat("vacuum", "-w", str(shop), "--retain", "0")
    assert proc.returncode == 0, proc.stderr
    assert not orphan.exists()
    assert len(list(table.glob("*.parquet"))) < before
    assert ok("query", "-w", str(shop), "select count(*) as n from silver.orders", "--format", "csv").split() == [
        "n",
        "4",
    ]
    assert "removed by `rat vacuum`" in run_rat("diff", "-w", str(shop), "silver.orders", "0", "1").stderr
    # A week's retention (the default) deletes nothing this young.
    assert "vacuum: nothing to delete" in run_rat("vacuum", "-w", str(shop)).stderr


def test_status_shows_the_last_build_of_each_model(shop: Path) -> None:
    status = json.loads(ok("status", "-w", str(shop), "--json"))
    orders = next(t for t in status["tables"] if t["name"] == "silver.orders")
    assert orders["last_run"]["status"] == "ok" and orders["last_run"]["rows"] == 4
    assert orders["last_run"]["seconds"] >= 0 and orders["last_run"]["mode"] == "full"
    assert "ok in" in ok("status", "-w", str(shop))


def test_history_diff_rollback_vacuum_on_the_demo(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    ok("init", str(demo), "--demo")
    ok("run", "-w", str(demo))
    late = "order_id,order_date,cust_id,status,ship_country,channel,amount\nX-LATE-1,2024-06-30,C0001,paid,DE,web,$100.00\n"
    write(demo / "landing" / "orders" / "2024-06-late.csv", late)
    ok("run", "-w", str(demo))
    d = json.loads(ok("diff", "-w", str(demo), "gold.daily_revenue", "--json"))
    assert d["key"] == ["order_date"] and d["added"] == 0 and d["removed"] == 0 and d["changed"] == 1
    assert [v["version"] for v in json.loads(ok("history", "-w", str(demo), "gold.daily_revenue", "--json"))] == [1, 0]
    sql = "select revenue from gold.daily_revenue where order_date = '2024-06-30'"
    after = float(ok("query", "-w", str(demo), sql, "--format", "csv").split()[1])
    ok("rollback", "-w", str(demo), "gold.daily_revenue", "0")
    before = float(ok("query", "-w", str(demo), sql, "--format", "csv").split()[1])
    assert round(after - before, 2) == 100.00
    ok("vacuum", "-w", str(demo), "--retain", "0")
    assert float(ok("query", "-w", str(demo), sql, "--format", "csv").split()[1]) == before
