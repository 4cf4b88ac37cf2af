"""Ingest: landing files of every supported kind land in bronze once, with lineage; bad ones go to quarantine."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import polars as pl
import pytest
from conftest import query, write
from deltalake import DeltaTable

from rat_tui.engine.ingest import table_name_for


def bronze(e, table: str, order: str = "1") -> list[tuple]:
    return query(e, f"select * exclude (_source_file, _ingested_at, _batch_id) from bronze.{table} order by {order}")


def test_table_names_from_folders_and_stems() -> None:
    assert table_name_for("orders") == "bronze.orders"
    assert table_name_for("Customer Export (2)") == "bronze.customer_export_2"
    assert table_name_for("2024-sales") == "bronze.t_2024_sales"


def test_csv_dialects_are_sniffed(ws: Path, engine) -> None:
    write(ws / "landing" / "semi.csv", "id;name;score\n1;Ann;1.5\n2;Bob;2\n")
    write(ws / "landing" / "tabs.tsv", "id\tname\n1\tAnn\n2\tBob\n")
    write(ws / "landing" / "pipes.psv", "id|name\n1|Ann\n")
    write(ws / "landing" / "quoted.csv", 'id,comment\n1,"hello, world"\n2,"line one\nline two"\n')
    report = engine().run()
    assert not report.quarantined
    e = engine()
    assert bronze(e, "semi") == [(1, "Ann", 1.5), (2, "Bob", 2.0)]
    assert bronze(e, "tabs") == [(1, "Ann"), (2, "Bob")]
    assert bronze(e, "pipes") == [(1, "Ann")]
    assert bronze(e, "quoted") == [(1, "hello, world"), (2, "line one\nline two")]


def test_headerless_csv_gets_column_names(ws: Path, engine) -> None:
    write(ws / "landing" / "raw.csv", "1,2.5,x\n2,3.5,y\n3,4.5,z\n")
    engine().run()
    rows = query(engine(), "select count(*), sum(column_0), max(column_2) from bronze.raw")
    assert rows == [(3, 6, "z")]


def test_gzip_json_ndjson_parquet(ws: Path, engine) -> None:
    write(ws / "landing" / "gz" / "a.csv.gz", gzip.compress(b"id,v\n1,10\n2,20\n"))
    write(ws / "landing" / "arr.json", json.dumps([{"id": 1, "tags": ["a", "b"], "meta": {"k": 1}}, {"id": 2}]))
    write(ws / "landing" / "lines.ndjson", '{"id": 1, "v": "a"}\n{"id": 2, "v": "b", "extra": true}\n')
    buf = io.BytesIO()
    pl.DataFrame({"sku": ["A", "B"], "price": [1.25, 2.5]}).write_parquet(buf)
    write(ws / "landing" / "prices.parquet", buf.getvalue())
    report = engine().run()
    assert not report.quarantined, report.quarantined
    e = engine()
    assert bronze(e, "gz") == [(1, 10), (2, 20)]
    assert query(e, "select id, tags, meta.k from bronze.arr order by id") == [(1, ["a", "b"], 1), (2, None, None)]
    assert bronze(e, "lines") == [(1, "a", None), (2, "b", True)]
    assert bronze(e, "prices") == [("A", 1.25), ("B", 2.5)]


def test_lineage_columns(ws: Path, engine) -> None:
    write(ws / "landing" / "orders" / "2024" / "jan.csv", "id\n1\n2\n")
    engine().run()
    rows = query(engine(), "select _source_file, _batch_id is not null, typeof(_ingested_at) from bronze.orders")
    assert rows == [("orders/2024/jan.csv", True, "TIMESTAMP WITH TIME ZONE")] * 2


def test_each_file_is_ingested_exactly_once(ws: Path, engine) -> None:
    f = write(ws / "landing" / "orders" / "a.csv", "id,v\n1,x\n")
    first = engine().run()
    assert first.ingested == ["orders/a.csv"]
    # Same bytes under another name: skipped. Nothing new: nothing ingested.
    write(ws / "landing" / "orders" / "copy_of_a.csv", f.read_bytes())
    second = engine().run()
    assert second.ingested == [] and second.status == "noop"
    # A changed file under the old name is a new batch.
    write(f, "id,v\n1,x\n2,y\n")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    third = engine().run()
    assert third.ingested == ["orders/a.csv"]
    rows = query(engine(), "select id, v, count(distinct _batch_id) over () from bronze.orders order by id, v")
    assert rows == [(1, "x", 2), (1, "x", 2), (2, "y", 2)]
    assert len(DeltaTable(str(ws / "lake" / "bronze" / "orders")).history()) == 2


def test_a_burst_of_files_is_one_commit_per_table(ws: Path, engine) -> None:
    for i in range(40):
        write(ws / "landing" / "events" / f"e{i:03}.csv", f"id,n\n{i},{i * 2}\n")
    report = engine().run()
    assert len(report.ingested) == 40
    dt = DeltaTable(str(ws / "lake" / "bronze" / "events"))
    assert dt.version() == 0
    assert query(engine(), "select count(*), sum(n) from bronze.events") == [(40, sum(i * 2 for i in range(40)))]


def test_schema_drift_adds_and_nulls_columns(ws: Path, engine) -> None:
    write(ws / "landing" / "c" / "1.csv", "id,name\n1,Ann\n")
    engine().run()
    write(ws / "landing" / "c" / "2.csv", "id,name,email\n2,Bob,b@x\n")
    engine().run()
    write(ws / "landing" / "c" / "3.csv", "id,email\n3,c@x\n")
    engine().run()
    assert bronze(engine(), "c") == [(1, "Ann", None), (2, "Bob", "b@x"), (3, None, "c@x")]


def test_type_conflict_widens_to_text_without_losing_rows(ws: Path, engine) -> None:
    write(ws / "landing" / "amounts" / "1.csv", "id,amount\n1,10.5\n2,20\n")
    engine().run()
    write(ws / "landing" / "amounts" / "2.csv", "id,amount\n3,$5.00\n")
    report = engine().run()
    assert not report.quarantined
    rows = query(engine(), "select id, amount, typeof(amount) from bronze.amounts order by id")
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[2][1:] == ("$5.00", "VARCHAR")
    assert float(rows[0][1]) == 10.5


def test_quarantine_keeps_the_file_and_a_reason_and_the_rest_lands(ws: Path, engine) -> None:
    write(ws / "landing" / "good.csv", "a\n1\n")
    write(ws / "landing" / "broken.parquet", b"PAR1 this is not parquet")
    write(ws / "landing" / "scalar.json", "42")
    write(ws / "landing" / "notes.docx", b"\x50\x4b\x03\x04 zip")
    write(ws / "landing" / "empty.csv", "")
    report = engine().run()
    assert report.ingested == ["good.csv"]
    reasons = dict(report.quarantined)
    assert set(reasons) == {"broken.parquet", "scalar.json", "notes.docx", "empty.csv"}
    assert "unsupported file type '.docx'" in reasons["notes.docx"]
    assert "a single JSON value (42), not records" in reasons["scalar.json"]
    assert "empty" in reasons["empty.csv"]
    for rel in reasons:
        moved = list((ws / ".rat" / "quarantine").rglob(rel))
        assert len(moved) == 1, rel
        reason = moved[0].with_name(moved[0].name + ".reason.txt").read_text()
        assert f"landing/{rel}" in reason and "reason: " in reason
    # Quarantined files are not retried, and the good one is not ingested again.
    assert engine().run().status == "noop"


def test_temp_and_hidden_files_wait(ws: Path, engine) -> None:
    write(ws / "landing" / "orders" / "big.csv.part", "id\n1\n")
    write(ws / "landing" / ".hidden.csv", "id\n1\n")
    write(ws / "landing" / "orders" / "x.csv.crdownload", "id\n1\n")
    assert engine().run().status == "noop"
    (ws / "landing" / "orders" / "big.csv.part").rename(ws / "landing" / "orders" / "big.csv")
    assert engine().run().ingested == ["orders/big.csv"]


def test_dropped_files_are_never_deleted(ws: Path, engine) -> None:
    files = [write(ws / "landing" / "t" / f"{i}.csv", f"x\n{i}\n") for i in range(3)]
    engine().run()
    engine().run()
    assert all(f.exists() for f in files)


def test_latin1_export_loads(ws: Path, engine) -> None:
    write(ws / "landing" / "erp.csv", "name,city\nJosé,Zürich\n".encode("latin-1"))
    report = engine().run()
    assert not report.quarantined
    assert bronze(engine(), "erp") == [("José", "Zürich")]


@pytest.mark.slow
def test_large_file_streams_and_a_late_text_value_widens(ws: Path, engine, monkeypatch) -> None:
    import rat_tui.engine.ingest as ingest

    monkeypatch.setattr(ingest, "STREAM_BYTES", 1024)  # stream everything past 1 KB
    lines = ["id,code"] + [f"{i},{i}" for i in range(20_000)] + ["20000,A-17"]
    write(ws / "landing" / "codes" / "a.csv", "\n".join(lines) + "\n")
    report = engine().run()
    assert report.ingested == ["codes/a.csv"], report.quarantined
    assert query(engine(), "select count(*), max(id), typeof(any_value(code)) from bronze.codes") == [
        (20_001, 20_000, "VARCHAR")
    ]
    # The same bytes again under a new name: hashed while streaming, then skipped.
    write(ws / "landing" / "codes" / "b.csv", (ws / "landing" / "codes" / "a.csv").read_bytes())
    again = engine().run()
    assert again.ingested == [] and again.status == "noop"
    assert query(engine(), "select count(*) from bronze.codes") == [(20_001,)]
