"""The command line, run as a user runs it: exit codes, stdout for data only, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import RAT, run_rat, write

from rat_tui import __version__


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "ws"
    assert run_rat("init", str(root)).returncode == 0
    write(root / "landing" / "orders.csv", "id,customer,amount\n1,a,10.5\n2,b,20\n3,a,\n")
    write(
        root / "models" / "gold" / "totals.sql",
        "select customer, sum(amount) as total, count(*) as n from bronze.orders group by 1",
    )
    done = run_rat("run", "-w", str(root))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # narration goes to stderr
    assert "built gold.totals" in done.stderr
    return root


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("rat: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_version_and_module_entry_point() -> None:
    assert run_rat("--version").stdout.strip() == f"rat {__version__}"
    proc = subprocess.run([sys.executable, "-m", "rat_tui", "--version"], capture_output=True, text=True)
    assert proc.stdout.strip() == f"rat {__version__}"


def test_help_lists_the_commands() -> None:
    out = run_rat("--help").stdout
    for command in ("init", "demo", "run", "query", "status"):
        assert command in out
    assert "--workspace" in run_rat("query", "--help").stdout


def test_query_formats(built: Path) -> None:
    sql = "select customer, total, n from gold.totals order by customer"
    table = run_rat("query", "-w", str(built), sql)
    assert table.returncode == 0 and table.stderr == ""
    assert table.stdout.splitlines()[0].split() == ["customer", "total", "n"]
    assert table.stdout.splitlines()[2].split() == ["a", "10.5", "2"]

    as_csv = run_rat("query", "-w", str(built), sql, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["customer", "total", "n"],
        ["a", "10.5", "2"],
        ["b", "20.0", "1"],
    ]

    as_json = run_rat("query", "-w", str(built), sql, "--format", "json")
    assert json.loads(as_json.stdout) == [
        {"customer": "a", "total": 10.5, "n": 2},
        {"customer": "b", "total": 20.0, "n": 1},
    ]

    out = built.parent / "out.parquet"
    as_parquet = run_rat("query", "-w", str(built), sql, "--format", "parquet", "-o", str(out))
    assert as_parquet.returncode == 0 and as_parquet.stdout == ""
    assert pq.read_table(out).to_pylist()[0] == {"customer": "a", "total": 10.5, "n": 2}

    out_csv = built.parent / "out.csv"
    assert run_rat("query", "-w", str(built), sql, "--format", "csv", "-o", str(out_csv)).returncode == 0
    assert out_csv.read_text().splitlines()[0] == "customer,total,n"


def test_query_nulls_and_empty_results(built: Path) -> None:
    empty = run_rat("query", "-w", str(built), "select * from bronze.orders where false", "--format", "csv")
    assert empty.stdout.splitlines() == ["id,customer,amount,_source_file,_ingested_at,_batch_id"]
    assert json.loads(run_rat("query", "-w", str(built), "select null as x", "--format", "json").stdout) == [
        {"x": None}
    ]
    assert "NULL" in run_rat("query", "-w", str(built), "select null as x").stdout


def test_status_json_contract(built: Path) -> None:
    status = json.loads(run_rat("status", "-w", str(built), "--json").stdout)
    tables = {t["name"]: t for t in status["tables"]}
    assert set(tables) == {"bronze.orders", "gold.totals"}
    gold = tables["gold.totals"]
    assert gold["layer"] == "gold" and gold["rows"] == 2 and gold["version"] == 0 and gold["state"] == "ok"
    assert gold["built_at"]
    assert tables["bronze.orders"]["rows"] == 3
    assert status["runs"] and status["runs"][0]["status"] == "ok"
    human = run_rat("status", "-w", str(built))
    assert human.returncode == 0 and "gold.totals" in human.stdout


def test_history(built: Path) -> None:
    versions = json.loads(run_rat("history", "-w", str(built), "gold.totals", "--json").stdout)
    assert versions[0]["version"] == 0 and versions[0]["rows"] == 2 and versions[0]["operation"] == "build"
    assert set(versions[0]) == {"version", "timestamp", "operation", "rows", "run", "maintenance"}
    one_line_error(run_rat("history", "-w", str(built), "gold.nope"), "gold.nope", "rat status")


def test_workspace_found_from_a_subfolder(built: Path) -> None:
    proc = run_rat("query", "select count(*) as n from bronze.orders", "--format", "csv", cwd=built / "models")
    assert proc.stdout.splitlines() == ["n", "3"]


def test_errors_are_one_line_without_traceback(tmp_path: Path, built: Path) -> None:
    one_line_error(run_rat("status", "-w", str(tmp_path / "nowhere")), "no such folder", "rat init")
    one_line_error(run_rat("run", cwd=tmp_path), "rat.toml", "rat init")
    one_line_error(run_rat("query", "-w", str(built), "select * from gold.nope"), "nope does not exist", "rat status")
    one_line_error(run_rat("query", "-w", str(built), "selec 1"), "syntax error")
    one_line_error(run_rat("query", "-w", str(built), "select 'x'::int"), "Conversion Error")
    one_line_error(run_rat("run", "-w", str(built), "no_such_model"), "no_such_model", "matches no model")
    one_line_error(run_rat("init", str(built)), "already a rat workspace")


def test_bad_rat_toml_names_the_line(tmp_path: Path) -> None:
    root = tmp_path / "w"
    run_rat("init", str(root))
    (root / "rat.toml").write_text('name = "w"\n\nmemory_limit = "8GB\n')
    line = one_line_error(run_rat("run", "-w", str(root)), "rat.toml", "line 3")
    assert str(root) in line


def test_failing_model_unknown_table_and_cycle_exit_nonzero(tmp_path: Path) -> None:
    root = tmp_path / "w"
    run_rat("init", str(root))
    write(root / "landing" / "t.csv", "id\n1\n")
    write(root / "models" / "silver" / "good.sql", "select * from bronze.t")
    cases = [
        ({"bad_sql": "select id, from bronze.t where"}, "models/silver/bad_sql.sql"),
        ({"unknown": "select * from bronze.nope"}, "reads unknown table bronze.nope"),
        ({"cyc_a": "select * from silver.cyc_b", "cyc_b": "select * from silver.cyc_a"}, "dependency cycle"),
        ({"bad_column": "select nope from bronze.t"}, "models/silver/bad_column.sql"),
    ]
    for files, needle in cases:
        for name, sql in files.items():
            write(root / "models" / "silver" / f"{name}.sql", sql)
        proc = run_rat("run", "-w", str(root))
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        for name in files:
            failed = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"FAILED silver.{name}:")]
            assert len(failed) == 1 and needle in failed[0], proc.stderr
            (root / "models" / "silver" / f"{name}.sql").unlink()
    assert (
        run_rat("query", "-w", str(root), "select count(*) from silver.good", "--format", "csv").stdout.splitlines()[1]
        == "1"
    )


def test_debug_shows_the_traceback(built: Path) -> None:
    proc = run_rat("query", "-w", str(built), "select * from gold.nope", "--debug")
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_importing_the_cli_stays_light() -> None:
    code = (
        "import sys, rat_tui.cli; heavy = [m for m in ('duckdb', 'polars', 'deltalake', 'pyarrow', 'textual') if m in sys.modules];"
        " print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == ""


def test_rat_executable_is_installed() -> None:
    assert Path(RAT).exists()


def test_a_quarantined_file_makes_the_run_exit_nonzero_once(tmp_path: Path) -> None:
    root = tmp_path / "w"
    run_rat("init", str(root))
    write(root / "landing" / "good.csv", "id\n1\n")
    write(root / "landing" / "bad.json", "{not json")
    proc = run_rat("run", "-w", str(root))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("quarantined landing/bad.json"))
    assert ".rat/quarantine/" in line and "drop it into landing/ again" in line
    assert "1 file ingested, 1 quarantined" in proc.stderr
    assert run_rat("run", "-w", str(root)).returncode == 0  # nothing new: the bad file is not retried
    assert run_rat("query", "-w", str(root), "select id from bronze.good", "--format", "csv").stdout.split() == [
        "id",
        "1",
    ]


def test_rat_demo_away_from_a_terminal_builds_and_prints_the_status(tmp_path: Path) -> None:
    done = run_rat("demo", "-w", str(tmp_path / "shop"), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert "gold.daily_revenue" in done.stdout and "try: rat -w" in done.stderr
