"""Bad input: broken, odd and hostile landing files, dropped into one workspace at once.

The corpus is `tests/data/bad/` (its README says what each file is, what a user wants from it and
why); two more cases are made here because they are large (a 5 MB line, 5,000 columns), and good
files land beside them. One `rat run` ingests the whole batch; then every case is checked on its
own: a file that should load is read back from bronze value by value, a file that cannot load is in
`.rat/quarantine/` with a reason a user can act on, nothing is lost, and rat never crashes.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import run_rat

from rat_tui.engine import Engine
from rat_tui.engine.query import Session, quote_ident
from rat_tui.engine.workspace import init_workspace

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad"
LINEAGE = ("_source_file", "_ingested_at", "_batch_id")
CITIES = [(1, "Ann", "Berlin"), (2, "Bob", "Paris")]

# Landing file (relative to landing/) -> (bronze table, its columns, its rows ordered by the first column).
LOADS: dict[str, tuple[str, list[str], list[tuple[Any, ...]]]] = {
    "header_only.csv": ("header_only", ["id", "name", "amount"], []),
    "semicolon.csv": ("semicolon", ["id", "name", "city"], CITIES),
    "pipe.csv": ("pipe", ["id", "name", "city"], CITIES),
    "tab.csv": ("tab", ["id", "name", "city"], CITIES),
    "caret.csv": ("caret", ["id", "name", "city"], [*CITIES, (3, "Cy", "Rome")]),
    "decimal_comma.csv": ("decimal_comma", ["id", "amount", "label"], [(1, 1.5, "a"), (2, 2.25, "b"), (3, -10.0, "c")]),
    "crlf.csv": ("crlf", ["id", "name", "city"], CITIES),
    "trailing_empty.csv": (
        "trailing_empty",
        ["id", "name", "city"],
        [(1, "Ann", None), (2, "Bob", "Paris"), (3, "Cy", None)],
    ),
    "quoted_newlines.csv": (
        "quoted_newlines",
        ["id", "note"],
        [(1, "two\r\nlines"), (2, 'say "hi", then\nleave'), (3, "plain")],
    ),
    "utf8_bom.csv": ("utf8_bom", ["id", "name"], [(1, "Ann"), (2, "Bob")]),
    "utf16le_bom.csv": ("utf16le_bom", ["id", "name", "city"], [(1, "José", "Zürich"), (2, "Zoë", "Kraków")]),
    "utf16le_nobom.csv": ("utf16le_nobom", ["id", "name"], [(1, "Ann"), (2, "Åsa")]),
    "latin1.csv": ("latin1", ["id", "name", "city"], [(1, "José", "Zürich"), (2, "Gaëlle", "Besançon")]),
    "cp1252.csv": ("cp1252", ["id", "item", "price"], [(1, "Café “Deluxe”", "5 €")]),
    "duplicate_columns.csv": (
        "duplicate_columns",
        ["id", "name", "name_1"],
        [(1, "Ann", "Anna"), (2, "Bob", "Robert")],
    ),
    "names_with_spaces.csv": ("names_with_spaces", ["order id", "First Name", "amount"], [(1, "Ann", 10)]),
    "unicode_names.csv": ("unicode_names", ["id", "Straße", "名前", "prix €"], [(1, "Hauptstr", "花子", 3)]),
    "keyword_names.csv": ("keyword_names", ["select", "from", "order"], [(1, 2, 3)]),
    "empty_name.csv": ("empty_name", ["id", "column_1", "name"], [(1, "x", "Ann"), (2, "y", "Bob")]),
    "injection_column.csv": ("injection_column", ["id", '"; select 1; --'], [(1, "boom")]),
    "lineage_names.csv": ("lineage_names", ["id", "_source_file_1", "_Batch_ID_1"], [(1, "from the export", "b-7")]),
    "with space.csv": ("with_space", ["id", "v"], [(1, "a")]),
    "Umsätze März.csv": ("umsatze_marz", ["id", "v"], [(1, "b")]),
    'it\'s "quoted".csv': ("it_s_quoted", ["id", "v"], [(1, "c")]),
    "a;b.csv": ("a_b", ["id", "v"], [(1, "d")]),
    "x'; drop table y; --.csv": ("x_drop_table_y", ["id", "v"], [(1, "e")]),
    "bom_array.json": ("bom_array", ["id", "name"], [(1, "Ann"), (2, "Bob")]),
    "array_of_values.json": ("array_of_values", ["value"], [(1,), (2,), (3,)]),
    "case_drift/1.csv": ("case_drift", ["id", "name"], [(1, "Ann"), (2, "Bob")]),
    "case_drift/2.csv": ("case_drift", ["id", "name"], [(1, "Ann"), (2, "Bob")]),
}
# Loaded too, checked by tests of their own below.
LOADS_SPECIAL = {
    "deeply_nested.json": "deeply_nested",
    "empty_array.json": "empty_array",
    "long_line.csv": "long_line",
    "wide_5000.csv": "wide_5000",
}
# Landing file -> words its quarantine reason must hold.
QUARANTINES: dict[str, str] = {
    "empty.csv": "the file is empty",
    "blank_lines.csv": "the file holds only blank lines",
    "ragged_long.csv": "line 3 has 3 fields but the header has 2",
    "ragged_short.csv": "line 3 has 2 fields but the header has 3",
    "mixed_delimiters.csv": "line 3 has 1 field but the header has 3",
    "unclosed_quote.csv": "the quoted value that starts on line 3 is never closed",
    "nul_bytes.csv": "NUL bytes (the first on line 2)",
    "random_bytes.csv": "a binary file",
    "truncated.csv.gz": "the .gz file is damaged or incomplete",
    "invalid.json": "not valid JSON (Expecting value at line 1, column 46)",
    "bad_line.ndjson": "line 2 is not valid JSON",
    "scalar.json": "a single JSON value (42), not records",
    "too_deep.ndjson": "the JSON is nested 1001 levels deep; rat reads JSON nested up to 256 levels",
    "corrupt_footer.parquet": "not a readable Parquet file",
}
# Good files of the same batch: landing file -> (table, rows).
GOOD: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "y.csv": ("y", [(1, "keep me")]),
    "good_orders/jan.csv": ("good_orders", [(1, 9.5), (2, 20.0)]),
    "good_orders/feb.csv": ("good_orders", [(1, 9.5), (2, 20.0)]),
    "good_events.ndjson": ("good_events", [(1, "open"), (2, "close")]),
    "good_prices.parquet": ("good_prices", [(1, 1.25), (2, 2.5)]),
}
LONG_VALUE = 5_000_000
WIDE = 5_000


@dataclass
class Batch:
    ws: Path
    run: subprocess.CompletedProcess[str]
    session: Session  # one for the module: the lake does not change after the batch
    dropped: dict[str, bytes]  # landing file -> its bytes

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        rel = self.session.sql(sql)
        assert rel is not None
        return rel.fetchall()

    def columns(self, table: str) -> list[tuple[str, str]]:
        """The table's columns and their DuckDB types, in order."""
        rel = self.session.sql(f"select * from {bronze(table)} limit 0")
        assert rel is not None
        return [(name, str(kind)) for name, kind in zip(rel.columns, rel.types, strict=True)]

    def reason_file(self, rel: str) -> Path:
        found = list((self.ws / ".rat" / "quarantine").glob(f"*/{glob_escape(rel)}.reason.txt"))
        assert len(found) == 1, f"{rel}: {found}"
        return found[0]

    def reason(self, rel: str) -> str:
        text = self.reason_file(rel).read_text(encoding="utf-8")
        match = re.search(r"^reason: (.*)$", text, re.M)
        assert match, text
        return match.group(1)


def glob_escape(rel: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", rel)


def bronze(table: str) -> str:
    return f"bronze.{quote_ident(table)}"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    ws = init_workspace(tmp_path_factory.mktemp("bad") / "ws")
    landing = ws / "landing"
    for src in sorted(CORPUS.rglob("*")):
        if src.is_file() and src.name != "README.md":
            dest = landing / src.relative_to(CORPUS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    # Too large to keep in the repository: one line of 5 MB (a document in a cell) and 5,000 columns.
    (landing / "long_line.csv").write_text(f"id,payload\n1,{'x' * LONG_VALUE}\n2,short\n", encoding="utf-8")
    header = ",".join(f"c{i}" for i in range(WIDE))
    values = ",".join(str(i) for i in range(WIDE))
    (landing / "wide_5000.csv").write_text(f"{header}\n{values}\n{values}\n", encoding="utf-8")
    (landing / "y.csv").write_text("id,v\n1,keep me\n", encoding="utf-8")
    (landing / "good_orders").mkdir()
    (landing / "good_orders" / "jan.csv").write_text("id,amount\n1,9.5\n", encoding="utf-8")
    (landing / "good_orders" / "feb.csv").write_text("id,amount\n2,20\n", encoding="utf-8")
    (landing / "good_events.ndjson").write_text('{"id": 1, "kind": "open"}\n{"id": 2, "kind": "close"}\n')
    buf = io.BytesIO()
    pl.DataFrame({"sku": [1, 2], "price": [1.25, 2.5]}).write_parquet(buf)
    (landing / "good_prices.parquet").write_bytes(buf.getvalue())
    dropped = {p.relative_to(landing).as_posix(): p.read_bytes() for p in landing.rglob("*") if p.is_file()}

    run = run_rat("run", "-w", str(ws))
    engine = Engine.open(ws)
    session = engine.query_session()
    yield Batch(ws, run, session, dropped)
    session.close()
    engine.close()


def test_the_corpus_is_all_accounted_for(batch: Batch) -> None:
    """Every dropped file is a case of this module, and there are at least 30 cases."""
    cases = set(LOADS) | set(LOADS_SPECIAL) | set(QUARANTINES)
    assert set(batch.dropped) == cases | set(GOOD)
    assert len(cases) >= 30


@pytest.mark.parametrize("rel", sorted(LOADS))
def test_loads_with_its_values(batch: Batch, rel: str) -> None:
    table, columns, rows = LOADS[rel]
    assert [name for name, _ in batch.columns(table)] == [*columns, *LINEAGE]
    cols = ", ".join(quote_ident(c) for c in columns)
    assert batch.rows(f"select {cols} from {bronze(table)} order by 1") == rows
    assert (rel,) in batch.rows(f"select distinct _source_file from {bronze(table)}") or not rows
    assert (batch.ws / "landing" / rel).read_bytes() == batch.dropped[rel]  # rat never deletes a dropped file


def test_decimal_commas_are_numbers(batch: Batch) -> None:
    assert batch.rows("select typeof(amount), sum(amount) from bronze.decimal_comma group by 1") == [("DOUBLE", -6.25)]


def test_a_five_megabyte_line_loads_whole(batch: Batch) -> None:
    rows = batch.rows("select id, length(payload), payload = repeat('x', 5000000) from bronze.long_line order by id")
    assert rows == [(1, LONG_VALUE, True), (2, 5, False)]


def test_five_thousand_columns_load(batch: Batch) -> None:
    columns = batch.columns("wide_5000")
    assert columns[:WIDE] == [(f"c{i}", "BIGINT") for i in range(WIDE)]
    assert [name for name, _ in columns[WIDE:]] == list(LINEAGE)
    assert batch.rows("select count(*), sum(c0), sum(c4999) from bronze.wide_5000") == [(2, 0, 2 * 4999)]


def test_deep_json_is_kept_as_json_text(batch: Batch) -> None:
    [(row_id, doc, kind)] = batch.rows("select id, doc, typeof(doc) from bronze.deeply_nested")
    assert (row_id, kind) == (1, "VARCHAR")
    value, depth = json.loads(doc), 0
    while isinstance(value, dict) and "a" in value:
        value, depth = value["a"], depth + 1
    assert (depth, value) == (200, {"leaf": 1})
    # DuckDB's JSON functions read it in silver.
    assert batch.rows("select json_extract(doc, '$.a.a.a') is not null from bronze.deeply_nested") == [(True,)]


def test_an_empty_json_array_is_zero_rows(batch: Batch) -> None:
    assert batch.rows("select count(*) from bronze.empty_array") == [(0,)]
    ledger = sqlite3.connect(batch.ws / ".rat" / "state.sqlite")
    try:
        status = ledger.execute("select status, rows from ingested_files where path = 'empty_array.json'").fetchall()
    finally:
        ledger.close()
    assert status == [("ingested", 0)]


@pytest.mark.parametrize("rel", sorted(QUARANTINES))
def test_quarantined_with_a_reason_a_user_understands(batch: Batch, rel: str) -> None:
    reason_file = batch.reason_file(rel)
    moved = reason_file.with_name(reason_file.name.removesuffix(".reason.txt"))
    assert moved.read_bytes() == batch.dropped[rel]  # the file itself, whole
    assert not (batch.ws / "landing" / rel).exists()
    text = reason_file.read_text(encoding="utf-8")
    assert f"file: landing/{rel}\n" in text
    reason = batch.reason(rel)
    assert QUARANTINES[rel] in reason
    # One plain sentence: no exception class names, no stack, no paths of this machine.
    assert not re.search(r"Error\b|Exception|Traceback|panicked|\bat 0x", reason), reason
    assert str(batch.ws) not in reason and "/tmp" not in reason, reason
    # No half table was left behind.
    assert not (batch.ws / "lake" / "bronze" / rel.split(".")[0]).exists()


@pytest.mark.parametrize("rel", sorted(GOOD))
def test_good_files_of_the_batch_land(batch: Batch, rel: str) -> None:
    table, rows = GOOD[rel]
    assert batch.rows(f"select * exclude ({', '.join(LINEAGE)}) from {bronze(table)} order by 1") == rows
    assert (rel,) in batch.rows(f"select distinct _source_file from {bronze(table)}")


def test_rat_run_does_not_crash_and_says_why_per_file(batch: Batch) -> None:
    err = batch.run.stderr
    assert batch.run.returncode == 1, err  # only because files were quarantined
    assert "Traceback" not in err and "internal error" not in err and "panicked" not in err, err
    assert batch.run.stdout == ""
    lines = err.splitlines()
    quarantined = [ln for ln in lines if ln.startswith("quarantined landing/")]
    assert len(quarantined) == len(QUARANTINES), quarantined
    for rel, words in QUARANTINES.items():
        [line] = [ln for ln in quarantined if ln.startswith(f"quarantined landing/{rel} -> .rat/quarantine/")]
        assert words in line and line.endswith("fix the file and drop it into landing/ again"), line
    loaded = len(LOADS) + len(LOADS_SPECIAL) + len(GOOD)
    assert f"FAILED: {loaded} files ingested, {len(QUARANTINES)} quarantined (see .rat/quarantine/)" in lines[-1]


def test_nothing_is_lost(batch: Batch) -> None:
    """Every dropped file is in bronze (the ledger has it, its rows name it) or in quarantine."""
    ledger = sqlite3.connect(batch.ws / ".rat" / "state.sqlite")
    try:
        status = dict(ledger.execute("select path, status from ingested_files").fetchall())
    finally:
        ledger.close()
    assert status == {rel: ("quarantined" if rel in QUARANTINES else "ingested") for rel in batch.dropped}
    sources = {
        source
        for (table,) in batch.rows("select table_name from information_schema.tables where table_schema = 'bronze'")
        for (source,) in batch.rows(f"select distinct _source_file from {bronze(table)}")
    }
    rowless = {"header_only.csv", "empty_array.json"}
    assert sources == {rel for rel in batch.dropped if rel not in QUARANTINES and rel not in rowless}
    for rel in QUARANTINES:
        assert batch.reason_file(rel).is_file()


def test_injected_names_execute_nothing(batch: Batch) -> None:
    # `x'; drop table y; --.csv` and a column `"; select 1; --` are names, never SQL.
    assert batch.rows("select v from bronze.y") == [("keep me",)]
    assert batch.rows("select _source_file from bronze.x_drop_table_y") == [("x'; drop table y; --.csv",)]
    assert batch.rows('select "id", """; select 1; --" from bronze.injection_column') == [(1, "boom")]
    tables = {
        t for (t,) in batch.rows("select table_name from information_schema.tables where table_schema = 'bronze'")
    }
    expected = {t for t, _, _ in LOADS.values()} | set(LOADS_SPECIAL.values()) | {t for t, _ in GOOD.values()}
    assert tables == expected
    assert sorted(p.name for p in (batch.ws / "lake" / "bronze").iterdir()) == sorted(expected)
    status = run_rat("status", "-w", str(batch.ws), "--json")
    assert status.returncode == 0, status.stderr
    assert {t["name"] for t in json.loads(status.stdout)["tables"]} == {f"bronze.{t}" for t in expected}


def test_a_second_run_has_nothing_to_do(batch: Batch) -> None:
    """Quarantined files are not retried and loaded ones not loaded again: the next run exits 0."""
    again = run_rat("run", "-w", str(batch.ws))
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
