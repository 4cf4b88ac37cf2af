"""Query sessions: views pinned to whole versions, exports, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write

from rat_tui.engine.errors import QueryError
from rat_tui.engine.results import export


def test_a_session_keeps_reading_the_version_it_opened(ws: Path, engine) -> None:
    write(ws / "landing" / "t" / "a.csv", "id\n1\n2\n")
    engine().run()
    session = engine().query_session()
    try:
        write(ws / "landing" / "t" / "b.csv", "id\n3\n")
        engine().run()  # a new version is committed while the session is open
        assert session.sql("select count(*) from bronze.t").fetchall() == [(2,)]
        session.refresh("bronze.t")
        assert session.sql("select count(*) from bronze.t").fetchall() == [(3,)]
    finally:
        session.close()


def test_schemas_exist_even_when_empty(ws: Path, engine) -> None:
    session = engine().query_session()
    try:
        names = {r[0] for r in session.sql("select schema_name from information_schema.schemata").fetchall()}
        assert {"bronze", "silver", "gold"} <= names
    finally:
        session.close()


def test_export_formats(ws: Path, engine, tmp_path: Path) -> None:
    write(ws / "landing" / "t.csv", "id,name\n1,a\n2,\n")
    engine().run()
    session = engine().query_session()
    try:
        assert (
            export(
                session,
                "select * exclude (_ingested_at, _batch_id) from bronze.t order by id",
                "json",
                tmp_path / "o.json",
            )
            == 2
        )
        assert json.loads((tmp_path / "o.json").read_text()) == [
            {"id": 1, "name": "a", "_source_file": "t.csv"},
            {"id": 2, "name": None, "_source_file": "t.csv"},
        ]
        assert export(session, "pragma version", "csv", tmp_path / "v.csv") == 1
        assert "library_version" in (tmp_path / "v.csv").read_text().splitlines()[0]
        with pytest.raises(QueryError, match="nope"):
            export(session, "select * from bronze.nope", "csv", tmp_path / "x.csv")
    finally:
        session.close()


@pytest.mark.parametrize(
    "sql",
    ["select null", "select 1 where false", "select '[/x]' as \"[b]\"", 'select * from range(3) t("a b")', ""],
)
def test_edge_queries_do_not_crash(ws: Path, engine, sql: str) -> None:
    session = engine().query_session()
    try:
        rel = session.sql(sql)
        if rel is not None:
            rel.fetchall()
    finally:
        session.close()
