"""The lake: staged Parquet published in one Delta commit; versions, history, row counts from the log."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from rat_tui.engine import lake


def stage(table: Path, df: pl.DataFrame, batch: str = "b") -> Path:
    out = lake.stage_path(table, batch)
    df.write_parquet(out)
    return out


def schema_of(df: pl.DataFrame) -> pa.Schema:
    return df.to_arrow().schema


def test_publish_create_append_overwrite(tmp_path: Path) -> None:
    t = tmp_path / "lake" / "bronze" / "t"
    a = pl.DataFrame({"id": [1, 2], "v": ["x", "y"]})
    assert lake.publish(t, [stage(t, a)], schema_of(a), "append", "r1", "ingest") == 0
    b = pl.DataFrame({"id": [3], "v": ["z"]})
    assert lake.publish(t, [stage(t, b)], schema_of(b), "append", "r2", "ingest") == 1
    assert lake.table_info("bronze.t", t).rows == 3  # from the log's statistics
    c = pl.DataFrame({"id": [9]})
    assert lake.publish(t, [stage(t, c)], schema_of(c), "overwrite", "r3", "build") == 2
    dt = DeltaTable(str(t))
    assert dt.to_pyarrow_table().to_pylist() == [{"id": 9}]
    assert [f.name for f in dt.schema().fields] == ["id"]
    hist = lake.history(t)
    assert [h["version"] for h in hist] == [2, 1, 0]
    assert [h["rows"] for h in hist] == [1, 3, 2]  # rows of the table at that version
    assert [h["run"] for h in hist] == ["r3", "r2", "r1"]
    # Old versions stay readable (time travel).
    dt.load_as_version(1)
    assert sorted(r["id"] for r in dt.to_pyarrow_table().to_pylist()) == [1, 2, 3]


def test_append_with_new_columns_is_one_commit(tmp_path: Path) -> None:
    t = tmp_path / "t"
    a = pl.DataFrame({"id": [1]})
    lake.publish(t, [stage(t, a)], schema_of(a), "append", "r1", "ingest")
    b = pl.DataFrame({"id": [2], "extra": ["e"]})
    assert lake.publish(t, [stage(t, b)], schema_of(b), "append", "r2", "ingest") == 1
    dt = DeltaTable(str(t))
    assert sorted(dt.to_pyarrow_table().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "extra": None},
        {"id": 2, "extra": "e"},
    ]


def test_a_failed_publish_leaves_no_staged_files_and_no_version(tmp_path: Path) -> None:
    t = tmp_path / "t"
    a = pl.DataFrame({"id": [1]})
    lake.publish(t, [stage(t, a)], schema_of(a), "append", "r1", "ingest")
    before = sorted(p.name for p in t.glob("*.parquet"))
    bad = stage(t, pl.DataFrame({"id": [2]}))
    with pytest.raises(FileNotFoundError):
        lake.publish(t, [bad, t / "missing.parquet"], schema_of(a), "append", "r2", "ingest")
    assert sorted(p.name for p in t.glob("*.parquet")) == before
    assert lake.latest_version(t) == 0


def test_list_tables_and_latest_version(tmp_path: Path) -> None:
    from rat_tui.engine.workspace import Workspace, init_workspace

    ws = Workspace(init_workspace(tmp_path / "w"))
    assert lake.list_tables(ws) == []
    for name in ("gold.g", "bronze.b", "silver.s"):
        df = pl.DataFrame({"x": [1]})
        lake.publish(ws.table_path(name), [stage(ws.table_path(name), df)], schema_of(df), "append", "r", "t")
    (ws.lake / "silver" / "not_a_table").mkdir()
    assert lake.list_tables(ws) == ["bronze.b", "silver.s", "gold.g"]
    assert lake.latest_version(ws.table_path("gold.g")) == 0
    assert lake.latest_version(ws.table_path("gold.none")) is None
