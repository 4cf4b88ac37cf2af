"""Incremental models: only new input is read, and the table always equals a full rebuild of it."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from conftest import write
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rat_tui.engine import Engine
from rat_tui.engine.workspace import init_workspace

LATEST = "select * from bronze.events qualify row_number() over (partition by id order by _batch_id desc) = 1"

MODELS = {
    "silver/log.sql": '/* rat\nmaterialized = "incremental"\nstrategy = "append"\n*/\n'
    "select id, day, v, _batch_id from bronze.events\n",
    "silver/current.sql": '/* rat\nmaterialized = "incremental"\nstrategy = "merge"\nunique_key = "id"\n'
    '[checks]\nunique = ["id"]\n*/\n' + f"select id, day, v from ({LATEST})\n",
    "gold/daily.sql": '/* rat\nmaterialized = "incremental"\nstrategy = "partition"\npartition_by = "day"\n'
    'unique_key = "id"\n*/\n' + f"select day, count(*) as orders, sum(v) as total from ({LATEST}) group by day\n",
    "gold/daily_py.py": """
import polars as pl

RAT = {"materialized": "incremental", "strategy": "partition", "partition_by": "day", "unique_key": "id"}


def model(ctx):
    events = ctx.table("bronze.events")
    latest = events.sort("_batch_id").group_by("id").last()
    return latest.group_by("day").agg(pl.len().cast(pl.Int64).alias("orders"), pl.col("v").sum().alias("total"))
""",
}
TABLES = ["silver.log", "silver.current", "gold.daily", "gold.daily_py"]
_counter = itertools.count()


def make_ws(root: Path) -> Path:
    init_workspace(root)
    for rel, text in MODELS.items():
        write(root / "models" / rel, text)
    return root


def drop(root: Path, rows: list[tuple[int, int, int]]) -> None:
    n = next(_counter)  # in the rows too: the same rows dropped twice are still two files' worth
    lines = ["id,day,v,drop_no"] + [f"{i},2024-01-{d + 1:02},{v},{n}" for i, d, v in rows]
    write(root / "landing" / "events" / f"drop-{n:05}.csv", "\n".join(lines) + "\n")


def table_rows(root: Path, name: str) -> list[tuple]:
    e = Engine.open(root)
    try:
        session = e.query_session()
        try:
            return sorted(session.sql(f"select * from {name}").fetchall(), key=repr)
        finally:
            session.close()
    finally:
        e.close()


def full_rebuild(root: Path, tmp: Path) -> Path:
    """A copy of the workspace whose models are rebuilt from scratch."""
    copy = tmp / f"full-{next(_counter)}"
    shutil.copytree(root, copy)
    e = Engine.open(copy)
    try:
        report = e.run(full_refresh=True)
        assert not report.failed, report.failed
    finally:
        e.close()
    return copy


def run(root: Path):
    e = Engine.open(root)
    try:
        return e.run()
    finally:
        e.close()


def test_each_strategy_builds_from_new_rows_only(tmp_path: Path) -> None:
    root = make_ws(tmp_path / "w")
    drop(root, [(1, 0, 10), (2, 0, 20), (3, 1, 30)])
    first = run(root)
    assert set(first.built) == set(TABLES) and first.incremental == []
    # An update of id 1 that moves it from day 0 to day 2, a new id, and late data for day 0.
    drop(root, [(1, 2, 11), (4, 3, 40), (5, 0, 50)])
    second = run(root)
    assert set(second.incremental) == set(TABLES), second
    ops = {t: DeltaTable(str(root / "lake" / t.replace(".", "/"))).history(1)[0]["rat.operation"] for t in TABLES}
    assert ops == {
        "silver.log": "build (append)",
        "silver.current": "build (merge)",
        "gold.daily": "build (partition)",
        "gold.daily_py": "build (partition)",
    }
    # Day 1 lost id 1 (moved to day 3) and gained the late id 5; CSV dates stay text in bronze.
    assert table_rows(root, "gold.daily") == [
        ("2024-01-01", 2, 70),
        ("2024-01-02", 1, 30),
        ("2024-01-03", 1, 11),
        ("2024-01-04", 1, 40),
    ]
    e = Engine.open(root)
    runs = e.state.last_model_runs()
    e.close()
    assert runs["silver.log"]["rows_in"] == 3 and runs["silver.log"]["mode"] == "incremental"
    full = full_rebuild(root, tmp_path)
    for t in TABLES:
        assert table_rows(root, t) == table_rows(full, t), t


def test_a_changed_model_or_dimension_means_a_full_rebuild(tmp_path: Path) -> None:
    root = make_ws(tmp_path / "w")
    drop(root, [(1, 0, 10)])
    run(root)
    text = (root / "models" / "silver" / "log.sql").read_text()
    write(root / "models" / "silver" / "log.sql", text.replace("select id,", "select id, v * 2 as v2,"))
    drop(root, [(2, 1, 20)])
    report = run(root)
    assert "silver.log" in report.built and "silver.log" not in report.incremental
    assert DeltaTable(str(root / "lake" / "silver" / "log")).history(1)[0]["rat.operation"] == "build"
    assert sorted(r[1] for r in table_rows(root, "silver.log")) == [20, 40]


def test_nothing_new_means_nothing_built(tmp_path: Path) -> None:
    root = make_ws(tmp_path / "w")
    drop(root, [(1, 0, 10)])
    run(root)
    report = run(root)
    assert report.status == "noop" and set(report.up_to_date) == set(TABLES)


def test_failing_check_on_incremental_merge_publishes_nothing(tmp_path: Path) -> None:
    root = make_ws(tmp_path / "w")
    write(
        root / "models" / "silver" / "current.sql",
        MODELS["silver/current.sql"].replace('unique = ["id"]', 'unique = ["id"]\nexpression = "v < 100"'),
    )
    drop(root, [(1, 0, 10)])
    run(root)
    version = DeltaTable(str(root / "lake" / "silver" / "current")).version()
    drop(root, [(1, 0, 500)])
    report = run(root)
    assert "check expression(v < 100) failed" in report.failed["silver.current"]
    assert DeltaTable(str(root / "lake" / "silver" / "current")).version() == version
    assert table_rows(root, "silver.current") == [(1, "2024-01-01", 10)]


events = st.lists(
    st.tuples(st.integers(0, 8), st.integers(0, 4), st.integers(-50, 50)),
    min_size=1,
    max_size=6,
    unique_by=lambda r: r[0],  # one row per id in a drop: "latest" is then well defined by arrival
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drops=st.lists(events, min_size=2, max_size=4))
def test_incremental_equals_full_rebuild_after_any_drops(
    tmp_path: Path, drops: list[list[tuple[int, int, int]]]
) -> None:
    root = make_ws(tmp_path / f"h-{next(_counter)}")
    incremental_builds = 0
    for rows in drops:
        drop(root, rows)
        report = run(root)
        assert not report.failed, report.failed
        incremental_builds += len(report.incremental)
    assert incremental_builds >= len(TABLES) * (len(drops) - 1)
    full = full_rebuild(root, tmp_path)
    for t in TABLES:
        assert table_rows(root, t) == table_rows(full, t), t
