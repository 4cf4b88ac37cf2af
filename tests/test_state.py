"""State: the ledger survives a crash between a bronze commit and its ledger update."""

from __future__ import annotations

from pathlib import Path

from conftest import query, write

from rat_tui.engine.events import EventBus
from rat_tui.engine.ingest import Ingestor
from rat_tui.engine.state import State


def test_crash_after_commit_before_ledger_is_not_ingested_twice(ws: Path, engine, monkeypatch) -> None:
    write(ws / "landing" / "t" / "a.csv", "id\n1\n2\n")
    e = engine()
    calls = {"n": 0}
    real = State.record_files

    def crash_on_final_ledger_write(self, rows):  # the second call marks rows ingested
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(self, rows)

    monkeypatch.setattr(State, "record_files", crash_on_final_ledger_write)
    try:
        e.run()
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(State, "record_files", real)
    # The commit landed; the ledger row is still pending. The next run recognises the batch.
    report = engine().run()
    assert report.ingested == []
    assert query(engine(), "select count(*) from bronze.t") == [(2,)]
    rows = engine().state.db.execute("select status from ingested_files").fetchall()
    assert [r[0] for r in rows] == ["ingested"]


def test_crash_before_commit_ingests_on_the_next_run(ws: Path, engine, monkeypatch) -> None:
    write(ws / "landing" / "t" / "a.csv", "id\n1\n2\n")
    import rat_tui.engine.lake as lake

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(lake, "publish", boom)
    try:
        engine().run()
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    assert not list((ws / "lake" / "bronze" / "t").glob("*.parquet"))  # staged files cleaned up
    assert engine().run().ingested == ["t/a.csv"]
    assert query(engine(), "select count(*) from bronze.t") == [(2,)]


def test_runs_and_model_builds_are_recorded(ws: Path, engine) -> None:
    write(ws / "landing" / "t.csv", "id\n1\n")
    write(ws / "models" / "silver" / "s.sql", "select * from bronze.t")
    report = engine().run()
    state = engine().state
    run = state.recent_runs(1)[0]
    assert run.run_id == report.run_id and run.status == "ok"
    assert run.files_ingested == 1 and run.models_built == 1 and run.finished_at
    last = state.last_model_runs()["silver.s"]
    assert last["status"] == "ok" and last["rows_out"] == 1 and last["version"] == 0


def test_ingestor_skips_files_already_in_ledger_without_rehashing(ws: Path, engine, monkeypatch) -> None:
    write(ws / "landing" / "t.csv", "id\n1\n")
    engine().run()
    import rat_tui.engine.ingest as ingest

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(ingest, "file_digest", no_hashing)
    e = engine()
    assert Ingestor(e.ws, e.state, EventBus()).pending() == []
