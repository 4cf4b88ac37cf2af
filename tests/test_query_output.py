"""`rat query` at any size, run as a user runs it: the table is capped and counted in flat memory,
`| head` returns at once, `-o FILE` takes its format from the extension, binary never goes to a terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import RAT, run_rat

from rat_tui.output import render_table

ROWS = 200_000
FOOTER = "--format csv or -o FILE.csv for all of them"
# DuckDB makes these rows itself: no landing files needed, and as many as a test wants.
WIDE = "select i, i * 2 as j, 'x' || i as s from range({n}) t(i)"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose bronze.big holds ROWS rows, landed as a Parquet file and ingested by `rat run`."""
    root = tmp_path_factory.mktemp("query") / "ws"
    assert run_rat("init", str(root)).returncode == 0
    (root / "landing").mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, 'name ' || i AS name, i * 0.5 AS amount FROM range({ROWS}) t(i)) "
        f"TO '{root / 'landing' / 'big.parquet'}' (FORMAT parquet)"
    )
    con.close()
    done = run_rat("run", "-w", str(root))
    assert done.returncode == 0, done.stderr
    return root


def query(ws: Path, sql: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_rat("query", "-w", str(ws), sql, *args)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rat: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def peak_rss_mb(args: list[str]) -> float:
    """The process's peak resident memory: its VmHWM, polled until it exits.

    Not wait4's ru_maxrss: Linux carries that across fork and exec, so a child of a large pytest
    process would report pytest's own size.
    """
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status = Path(f"/proc/{proc.pid}/status")
    peak = 0
    while proc.poll() is None:
        try:
            found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        except OSError:
            break
        if found:  # a process that has just exited lists no memory
            peak = max(peak, int(found.group(1)))
        time.sleep(0.01)
    assert proc.stderr is not None
    with proc.stderr:
        assert proc.wait() == 0, proc.stderr.read()
    return peak / 1024


def test_the_table_shows_40_rows_then_counts_the_rest(big: Path) -> None:
    proc = query(big, "select id, name, amount from bronze.big order by id")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "amount"]
    assert [int(ln.split()[0]) for ln in lines[2:-1]] == list(range(40))
    assert lines[-1] == f"… 199,960 more rows (200,000 in all); {FOOTER}"


def test_max_rows_sets_the_cap_and_0_prints_every_row(big: Path) -> None:
    five = query(big, "select id from bronze.big order by id", "--max-rows", "5").stdout.splitlines()
    assert len(five) == 2 + 5 + 1 and five[-1] == f"… 199,995 more rows (200,000 in all); {FOOTER}"

    every = query(big, "select id, name from bronze.big order by id", "--max-rows", "0")
    assert every.returncode == 0 and every.stderr == ""
    lines = every.stdout.splitlines()
    assert len(lines) == 2 + ROWS
    assert [int(ln.split()[0]) for ln in lines[2:]] == list(range(ROWS))
    assert lines[-1].split() == [str(ROWS - 1), "name", str(ROWS - 1)]


def test_a_result_of_at_most_40_rows_prints_as_before(big: Path) -> None:
    sql = "select id, name, amount, nullif(id % 2, 1) as even from bronze.big order by id limit {n}"
    three = query(big, sql.format(n=3)).stdout
    assert three == (
        "id  name    amount  even\n"
        "--  ------  ------  ----\n"
        " 0  name 0     0.0     0\n"
        " 1  name 1     0.5  NULL\n"
        " 2  name 2     1.0     0\n"
    )
    forty = query(big, sql.format(n=40)).stdout.splitlines()
    assert len(forty) == 42 and forty[-1].split()[0] == "39"  # no footer: nothing was left out
    assert query(big, sql.format(n=41)).stdout.splitlines()[-1] == f"… 1 more row (41 in all); {FOOTER}"
    assert query(big, "-- a comment, no statement").stdout == ""


def test_every_type_prints_as_duckdbs_own_python_values(big: Path) -> None:
    # The rows travel as Arrow batches; read back, each value must be what fetchall gives.
    sql = (
        "select interval 1 day + interval 3 hour as iv, map {'a': 1} as m, 'infinity'::date as d, "
        "12345678901234567890123::hugeint as h, 1::uhugeint as uh, [1, 2] as l, {'x': 1, 'y': 'b'} as st, "
        "'\\x01'::blob as b, '101'::bit as bt, '12:00:00+02'::timetz as tz, "
        "'00000000-0000-0000-0000-000000000001'::uuid as u, '{\"a\": 1}'::json as j, 'a'::enum('a', 'b') as e, "
        "1.5::float as f, 2.25 as dec, true as bo, '2024-01-01 10:00'::timestamp as ts, null as n"
    )
    con = duckdb.connect()
    rel = con.sql(sql)
    expected = io.StringIO()
    render_table(rel.columns, rel.fetchall(), expected)
    con.close()
    assert query(big, sql).stdout == expected.getvalue()
    assert query(big, sql, "--max-rows", "0").stdout == expected.getvalue()


def test_head_gets_its_lines_at_once_and_rat_exits_0_mid_count(big: Path) -> None:
    # A billion rows: fetching them (the old table) or counting them to the end would take minutes.
    started = time.monotonic()
    proc = subprocess.Popen(
        [RAT, "query", "-w", str(big), WIDE.format(n=1_000_000_000)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        first = time.monotonic() - started
        proc.stdout.close()  # what `| head -3` does once it has its lines
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("rat went on counting after the reader of its output left")
    finally:
        proc.kill()
    assert lines[0].split() == [b"i", b"j", b"s"] and lines[2].split() == [b"0", b"0", b"x0"]
    assert first < 10, f"the first lines took {first:.1f}s"
    assert code == 0
    assert time.monotonic() - started < 15, "rat went on counting after the reader of its output left"
    assert proc.stderr is not None and proc.stderr.read() == b""


@pytest.mark.parametrize(("n", "extra"), [(3_000_000, ()), (1_000_000, ("--max-rows", "0"))])
def test_memory_stays_flat_however_many_rows(big: Path, n: int, extra: tuple[str, ...]) -> None:
    # Before streaming: about 1,400 MB for 3M rows and 520 MB for 1M (all fetched, then rendered);
    # streamed, about 115 MB for either.
    peak = peak_rss_mb([RAT, "query", "-w", str(big), WIDE.format(n=n), *extra])
    assert peak < 300, f"peak RSS {peak:.0f} MB"


def test_an_error_after_the_first_rows_is_one_line(big: Path) -> None:
    sql = "select case when id = 150000 then error('boom at 150000') else id end as id from bronze.big"
    one_line_error(query(big, sql), "boom at 150000")
    one_line_error(query(big, sql, "--max-rows", "0"), "boom at 150000")
    out = big.parent / "failed.txt"
    one_line_error(query(big, sql, "-o", str(out)), "boom at 150000")
    assert not out.exists() and not list(big.parent.glob(".failed.txt*"))  # no file, no half of one


def test_o_takes_the_format_from_the_extension(big: Path, tmp_path: Path) -> None:
    sql = "select id, name from bronze.big order by id limit 3"
    written = {}
    for name in ("x.csv", "x.json", "x.ndjson", "x.jsonl", "x.parquet", "x.txt", "X.CSV"):
        proc = query(big, sql, "-o", str(tmp_path / name))
        assert proc.returncode == 0 and proc.stdout == ""
        assert proc.stderr == f"rat: wrote 3 rows to {tmp_path / name}\n"
        written[name] = tmp_path / name
    assert written["x.csv"].read_text().splitlines() == ["id,name", "0,name 0", "1,name 1", "2,name 2"]
    assert written["X.CSV"].read_text() == written["x.csv"].read_text()
    assert json.loads(written["x.json"].read_text())[2] == {"id": 2, "name": "name 2"}
    for name in ("x.ndjson", "x.jsonl"):
        assert [json.loads(ln)["id"] for ln in written[name].read_text().splitlines()] == [0, 1, 2]
    assert pl.read_parquet(written["x.parquet"]).to_dicts() == [{"id": i, "name": f"name {i}"} for i in range(3)]
    assert written["x.txt"].read_text() == query(big, sql).stdout

    # A table written to a file is capped like the one printed, and says so on stderr.
    capped = query(big, "select id from bronze.big", "-o", str(tmp_path / "all.txt"))
    assert (
        capped.stderr
        == f"rat: wrote the first 40 of 200,000 rows to {tmp_path / 'all.txt'}; --max-rows 0 writes them all\n"
    )
    assert (tmp_path / "all.txt").read_text().splitlines()[-1] == f"… 199,960 more rows (200,000 in all); {FOOTER}"

    # --format names the format of a file whose extension names none.
    assert query(big, sql, "--format", "csv", "-o", str(tmp_path / "x.dat")).returncode == 0
    assert (tmp_path / "x.dat").read_text().startswith("id,name\n")


def test_o_refuses_a_format_it_cannot_tell_or_that_disagrees(big: Path, tmp_path: Path) -> None:
    sql = "select id from bronze.big limit 3"
    one_line_error(
        query(big, sql, "--format", "csv", "-o", str(tmp_path / "out.parquet")),
        "out.parquet names a parquet file but --format is csv",
        "out.csv",
    )
    one_line_error(query(big, sql, "--format", "json", "-o", str(tmp_path / "out.ndjson")), "--format is json")
    one_line_error(query(big, sql, "--format", "table", "-o", str(tmp_path / "out.csv")), "--format is table")
    for name in ("out.xlsx", "out"):
        one_line_error(query(big, sql, "-o", str(tmp_path / name)), f"-o {tmp_path / name}", ".csv", ".parquet", ".txt")
    one_line_error(query(big, sql, "--format", "csv", "--max-rows", "5"), "--max-rows", "LIMIT")
    assert list(tmp_path.iterdir()) == []  # nothing was written


def run_at_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run rat with its standard output on a pseudo-terminal; return (exit code, what reached the
    terminal, stderr)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([RAT, *args], stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal has no writer left
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    return proc.returncode, seen.decode(errors="replace"), proc.stderr


def test_binary_never_goes_to_a_terminal(big: Path, tmp_path: Path) -> None:
    sql = "select id from bronze.big order by id limit 3"
    code, seen, err = run_at_a_terminal("query", "-w", str(big), sql, "--format", "parquet")
    assert code == 1 and seen == "", seen
    assert err.startswith("rat: error: parquet is binary and would go to a terminal") and "-o FILE.parquet" in err
    assert len(err.splitlines()) == 1

    # -o naming a terminal device is a terminal too.
    leader, follower = pty.openpty()
    try:
        proc = query(big, sql, "--format", "parquet", "-o", os.ttyname(follower))
    finally:
        os.close(follower)
        os.close(leader)
    one_line_error(proc, "would go to a terminal")

    # Piped, Parquet flows; text formats still reach a terminal.
    piped = subprocess.run([RAT, "query", "-w", str(big), sql, "--format", "parquet"], capture_output=True)
    assert piped.returncode == 0 and pl.read_parquet(io.BytesIO(piped.stdout))["id"].to_list() == [0, 1, 2]
    code, seen, err = run_at_a_terminal("query", "-w", str(big), sql)
    assert code == 0 and err == "" and seen.splitlines()[2].strip() == "0"


def test_an_empty_statement_is_an_error_not_silence(ws: Path) -> None:
    # Found by a review: `rat query ""` and a query of only comments printed nothing and exited 0.
    for sql in ("", "   ", "-- just a comment"):
        proc = run_rat("query", "-w", str(ws), sql)
        assert proc.returncode == 1 and "no statement to run" in proc.stderr and "Traceback" not in proc.stderr
