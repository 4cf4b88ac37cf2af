"""Maintenance commits (a vacuum's VACUUM START and END) change no data: no model goes stale, an
incremental model stays incremental, `rat diff` looks through them, and a vacuum with nothing to
delete commits nothing and says so. Real workspaces and real `rat` processes throughout."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import run_rat, write

LATEST = "select * from bronze.events qualify row_number() over (partition by id order by _batch_id desc) = 1"
MERGE = (
    '/* rat\nmaterialized = "incremental"\nstrategy = "merge"\nunique_key = "id"\n*/\n'
    f"select id, day, v from ({LATEST})\n"
)


def ok(*args: str) -> str:
    proc = run_rat(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def history(root: Path, table: str) -> list[dict]:
    proc = run_rat("history", "-w", str(root), table, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def tables(root: Path) -> list[str]:
    status = json.loads(run_rat("status", "-w", str(root), "--json").stdout)
    return [t["name"] for t in status["tables"] if t["version"] is not None]


def data_files(root: Path) -> dict[str, set[str]]:
    """Every table's Parquet files on disk (vacuum deletes them; Delta's log does not list them)."""
    lake = root / "lake"
    return {f"{p.parent.name}.{p.name}": {f.name for f in p.glob("*.parquet")} for p in lake.glob("*/*")}


def orphan(table: Path, hours_old: float) -> Path:
    """A data file no version references, as an interrupted build leaves one."""
    f = table / "part-crashed-000000000000.zstd.parquet"
    f.write_bytes(b"PAR1")
    old = time.time() - hours_old * 3600
    os.utime(f, (old, old))
    return f


@pytest.fixture
def rebuilt(tmp_path: Path) -> Path:
    """The demo, built, then rebuilt in full: every model table holds files only version 0 needs."""
    root = tmp_path / "demo"
    ok("init", str(root), "--demo")
    ok("run", "-w", str(root))
    ok("run", "-w", str(root), "--full-refresh")
    return root


def test_a_vacuum_makes_no_model_stale(rebuilt: Path) -> None:
    ok("vacuum", "-w", str(rebuilt), "--retain", "0")
    err = ok("run", "-w", str(rebuilt))
    assert "nothing to do" in err and "built" not in err, err
    # History lists the vacuum's versions, marked as maintenance.
    ops = [(v["version"], v["operation"], v.get("maintenance")) for v in history(rebuilt, "silver.orders")]
    assert ops == [(3, "VACUUM END", True), (2, "VACUUM START", True), (1, "build", False), (0, "build", False)]
    text = run_rat("history", "-w", str(rebuilt), "silver.orders").stdout
    assert "VACUUM END (maintenance)" in text and "VACUUM START (maintenance)" in text
    for table in ("gold.customer_lifetime_value", "gold.daily_revenue", "gold.product_performance"):
        assert [v["operation"] for v in history(rebuilt, table)] == ["VACUUM END", "VACUUM START", "build", "build"]


def test_the_vacuum_count_is_the_files_that_went_and_a_second_vacuum_commits_nothing(rebuilt: Path) -> None:
    before = data_files(rebuilt)
    err = ok("vacuum", "-w", str(rebuilt), "--retain", "0")
    after = data_files(rebuilt)
    gone = {t: len(before[t] - after[t]) for t in before if before[t] - after[t]}
    said = {m[0]: int(m[1]) for m in re.findall(r"vacuumed (\S+): (\d+) files? deleted", err)}
    assert said == gone and len(gone) == 8, err  # the five silver and three gold model tables
    assert f"vacuum done: {sum(gone.values())} files deleted from 8 tables" in err
    versions = {t: history(rebuilt, t) for t in tables(rebuilt)}
    again = ok("vacuum", "-w", str(rebuilt), "--retain", "0")
    assert "vacuum: nothing to delete" in again and "vacuumed" not in again, again
    assert {t: history(rebuilt, t) for t in tables(rebuilt)} == versions  # no VACUUM commits this time
    assert data_files(rebuilt) == after


def test_an_incremental_model_builds_incrementally_after_a_vacuum(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ok("init", str(root))
    write(root / "models" / "silver" / "current.sql", MERGE)
    write(root / "landing" / "events" / "1.csv", "id,day,v\n1,1,10\n2,1,20\n")
    ok("run", "-w", str(root))
    write(root / "landing" / "events" / "2.csv", "id,day,v\n2,2,21\n3,2,30\n")  # id 2 again: a file rewritten
    assert "incremental" in ok("run", "-w", str(root))
    orphan(root / "lake" / "bronze" / "events", hours_old=2)  # so the input gets VACUUM commits too
    ok("vacuum", "-w", str(root), "--retain", "0")
    for table in ("silver.current", "bronze.events"):
        assert history(root, table)[0]["operation"] == "VACUUM END", table
    assert "nothing to do" in ok("run", "-w", str(root))
    write(root / "landing" / "events" / "3.csv", "id,day,v\n3,3,31\n4,3,40\n")
    err = ok("run", "-w", str(root))
    assert re.search(r"built silver\.current: .*incremental\)", err), err
    status = json.loads(run_rat("status", "-w", str(root), "--json").stdout)
    current = next(t for t in status["tables"] if t["name"] == "silver.current")
    assert current["last_run"]["mode"] == "incremental" and current["last_run"]["rows_in"] == 2
    csv = run_rat("query", "-w", str(root), "select id, day, v from silver.current order by id", "--format", "csv")
    assert csv.stdout.split() == ["id,day,v", "1,1,10", "2,2,21", "3,3,31", "4,3,40"]


def test_diff_by_default_compares_the_last_two_data_versions(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ok("init", str(root))
    write(root / "landing" / "orders" / "1.csv", "id,status\n1,new\n2,new\n")
    write(
        root / "models" / "silver" / "orders.sql",
        '/* rat\nunique_key = "id"\n*/\nselect id, status from bronze.orders '
        "qualify row_number() over (partition by id order by _batch_id desc) = 1",
    )
    ok("run", "-w", str(root))
    write(root / "landing" / "orders" / "2.csv", "id,status\n2,paid\n3,new\n")
    ok("run", "-w", str(root))  # silver.orders version 1: the last change
    # A vacuum that deletes only a day-old orphan: the file version 0 needs is younger than a day.
    table = root / "lake" / "silver" / "orders"
    stray = orphan(table, hours_old=25)
    assert "vacuumed silver.orders: 1 file deleted" in ok("vacuum", "-w", str(root), "--retain", "1d")
    assert not stray.exists()
    assert [v["operation"] for v in history(root, "silver.orders")][:2] == ["VACUUM END", "VACUUM START"]
    d = json.loads(run_rat("diff", "-w", str(root), "silver.orders", "--json").stdout)
    assert (d["from"], d["to"], d["added"], d["removed"], d["changed"]) == (0, 1, 1, 0, 1)
    assert "silver.orders version 0 -> 1 (rows matched by id): 1 added, 0 removed, 1 changed" in (
        run_rat("diff", "-w", str(root), "silver.orders").stdout
    )
    # Versions given are compared as given: the vacuum's two hold the same rows.
    same = json.loads(run_rat("diff", "-w", str(root), "silver.orders", "2", "3", "--json").stdout)
    assert (same["from"], same["to"], same["added"], same["removed"], same["changed"]) == (2, 3, 0, 0, 0)
    # Once a vacuum deleted version 0's files, the default diff says so instead of an empty diff.
    ok("vacuum", "-w", str(root), "--retain", "0")
    proc = run_rat("diff", "-w", str(root), "silver.orders")
    assert proc.returncode == 1 and "silver.orders version 0: its data files were removed" in proc.stderr
