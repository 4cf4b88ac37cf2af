"""Builds run under the workspace's memory_limit and spill to .rat/tmp instead of failing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import query, write

ROWS = 3_000_000
SORT = "select i, h, h || h as hh from bronze.big order by hh desc"


@pytest.mark.slow
def test_a_build_larger_than_memory_spills_and_finishes(ws: Path, engine, tmp_path: Path) -> None:
    big = ws / "landing" / "big.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT i, md5(i::VARCHAR) AS h FROM range({ROWS}) t(i)) TO '{big}' (FORMAT parquet)")
    # The same sort in DuckDB under the same limit, with spilling turned off, runs out of memory:
    # so the data really is larger than the limit.
    con.execute(
        "SET memory_limit = '128MB'; SET threads = 1; SET temp_directory = ''; SET preserve_insertion_order = false"
    )
    con.execute(f"CREATE VIEW big AS SELECT * FROM read_parquet('{big}')")
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute(SORT.replace("bronze.big", "big")).fetchall()
    con.close()

    (ws / "rat.toml").write_text('name = "tiny"\nmemory_limit = "128MB"\nthreads = 1\n')
    write(ws / "models" / "silver" / "sorted.sql", SORT)
    report = engine().run()
    assert report.built == ["silver.sorted"], report.failed
    e = engine()
    assert query(e, "select count(*), count(distinct i) from silver.sorted") == [(ROWS, ROWS)]
    assert query(e, "select max(hh) = (select hh from silver.sorted limit 1) from silver.sorted") == [(True,)]
