"""Common file shapes land: API dumps holding their records, JSON whose values change type,
spreadsheet exports with title rows, and `[landing.<folder>]` options for what sniffing cannot know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import query, run_rat, write

from rat_tui.engine import Engine


def settings(ws: Path, text: str) -> None:
    toml = ws / "rat.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def test_a_pretty_printed_api_dump_lands_its_records_and_says_which_key(ws: Path) -> None:
    dump = {"data": [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}], "meta": {"page": 1, "total": 2}}
    write(ws / "landing" / "tickets" / "2024-06-01.json", json.dumps(dump, indent=2))
    done = run_rat("run", "-w", str(ws))
    assert done.returncode == 0, done.stderr
    assert "landing/tickets/2024-06-01.json: the records under 'data' (besides meta)" in done.stderr
    e = Engine.open(ws)
    try:
        assert query(e, "select id, name from bronze.tickets order by id") == [(1, "Ann"), (2, "Bob")]
    finally:
        e.close()


def test_records_one_level_down_and_minified_dumps(ws: Path, engine) -> None:
    write(ws / "landing" / "a.json", json.dumps({"response": {"items": [{"id": 1}, {"id": 2}], "count": 2}}))
    write(ws / "landing" / "b.json", '{"results": [{"id": 3}], "next": null}')  # one line: still a document
    report = engine().run()
    assert not report.quarantined, report.quarantined
    e = engine()
    assert query(e, "select id from bronze.a order by id") == [(1,), (2,)]
    assert query(e, "select id from bronze.b") == [(3,)]


def test_pretty_printed_objects_one_after_another_are_rows(ws: Path, engine) -> None:
    write(ws / "landing" / "ev.json", '{\n  "id": 1,\n  "v": "a"\n}\n{\n  "id": 2,\n  "v": "b"\n}\n')
    engine().run()
    assert query(engine(), "select id, v from bronze.ev order by id") == [(1, "a"), (2, "b")]


def test_what_is_not_records_is_quarantined_saying_what_was_found(ws: Path, engine) -> None:
    write(ws / "landing" / "err.json", '{\n  "error": "rate limited",\n  "retry_after": 30\n}\n')
    write(ws / "landing" / "two.json", json.dumps({"data": [{"id": 1}], "included": [{"id": 9}]}))
    report = engine().run()
    reasons = dict(report.quarantined)
    assert reasons["err.json"].startswith("a single JSON object with no list of records (keys: error, retry_after)")
    assert "[landing.err]" in reasons["err.json"]
    assert "not valid JSON" not in reasons["err.json"]
    assert reasons["two.json"].startswith("a JSON object with several lists of records (data, included)")


def test_records_option_picks_the_list_or_takes_the_document(ws: Path, engine) -> None:
    settings(ws, '[landing.two]\nrecords = "included"\n\n[landing.err]\nrecords = ""\n')
    write(ws / "landing" / "two.json", json.dumps({"data": [{"id": 1}], "included": [{"id": 9}]}))
    write(ws / "landing" / "err.json", json.dumps({"error": "rate limited"}))
    report = engine().run()
    assert not report.quarantined, report.quarantined
    e = engine()
    assert query(e, "select id from bronze.two") == [(9,)]
    assert query(e, "select error from bronze.err") == [("rate limited",)]


def test_values_that_change_type_land_as_json_text(ws: Path, engine) -> None:
    records = [
        {"id": 1, "owner": "ann", "tags": [1, {"k": "v"}], "n": 1},
        {"id": 2, "owner": {"name": "Bob", "team": 7}, "tags": ["x"], "n": 2.5},
        {"id": 3, "owner": None, "tags": [], "n": None},
    ]
    write(ws / "landing" / "mixed.json", json.dumps(records))
    write(ws / "landing" / "lines.ndjson", "\n".join(json.dumps(r) for r in records) + "\n")
    report = engine().run()
    assert not report.quarantined, report.quarantined
    e = engine()
    for table in ("mixed", "lines"):
        rows = query(e, f"select id, owner, tags, n from bronze.{table} order by id")
        assert rows == [
            (1, '"ann"', '[1,{"k":"v"}]', 1.0),
            (2, '{"name":"Bob","team":7}', '["x"]', 2.5),
            (3, None, "[]", None),
        ]
        # DuckDB's JSON functions read every row of such a column the same way.
        assert query(e, f"select json_extract_string(owner, '$.name') from bronze.{table} where id = 2") == [("Bob",)]


def test_a_large_ndjson_file_with_changing_types_streams_exactly(ws: Path, engine, monkeypatch) -> None:
    from rat_tui.engine.ingest import reader

    monkeypatch.setattr(reader, "STREAM_BYTES", 1)  # every file takes the large-file path
    lines = [json.dumps({"id": i, "v": i if i % 2 else {"nested": i}}) for i in range(1, 2001)]
    write(ws / "landing" / "big.ndjson", "\n".join(lines) + "\n")
    report = engine().run()
    assert not report.quarantined, report.quarantined
    e = engine()
    assert query(e, "select count(*), count(v) from bronze.big") == [(2000, 2000)]
    assert query(e, "select v from bronze.big where id in (1, 2) order by id") == [("1",), ('{"nested":2}',)]
    assert not list((ws / ".rat" / "tmp").glob("ndjson-*")), "the scratch file was left behind"
    # Past the rows polars types a streamed file from, an object where strings were: still exact.
    lines = [json.dumps({"id": i, "v": "x"}) for i in range(20_000)] + [json.dumps({"id": 20_000, "v": {"a": 1}})]
    write(ws / "landing" / "late.ndjson", "\n".join(lines) + "\n")
    report = engine().run()
    assert not report.quarantined, report.quarantined
    assert query(engine(), "select v from bronze.late where id in (0, 20000) order by id") == [('"x"',), ('{"a":1}',)]


def test_a_spreadsheet_export_with_title_rows_lands(ws: Path) -> None:
    export = "Sales report Q1 2024\nExported 2024-04-01 by ERP;;\n;;\nDate;Customer;Amount\n01.01.2024;A;999,16\n02.01.2024;B;12,50\n"
    write(ws / "landing" / "sales.csv", export)
    done = run_rat("run", "-w", str(ws))
    assert done.returncode == 0, done.stderr
    assert "landing/sales.csv: skipped 3 title rows above the header" in done.stderr
    e = Engine.open(ws)
    try:
        assert query(e, 'select "Date", "Customer", "Amount" from bronze.sales order by 2') == [
            ("01.01.2024", "A", 999.16),
            ("02.01.2024", "B", 12.5),
        ]
    finally:
        e.close()


def test_a_data_row_that_looks_sparse_is_not_taken_for_a_title(ws: Path, engine) -> None:
    write(ws / "landing" / "sparse.csv", "1,,\n2,b,c\n3,d,e\n")
    engine().run()
    assert query(engine(), "select count(*) from bronze.sparse") == [(3,)]


def test_landing_options_settle_what_sniffing_cannot(ws: Path, engine) -> None:
    settings(
        ws,
        '[landing.erp]\nformat = "csv"\ndelimiter = "|"\nheader = false\nskip_rows = 1\nencoding = "cp1252"\n'
        'decimal = ","\nthousands = "."\n\n[landing.erp.columns]\ncolumn_0 = "text"\ncolumn_2 = "decimal(12,2)"\n'
        'column_3 = "date(%d.%m.%Y)"\n',
    )
    write(
        ws / "landing" / "erp" / "export.dat",
        "EXPORT 7|||\n00123|Café|1.234,50|31.01.2024\n00124|Thé|12,5|01.02.2024\n".encode("cp1252"),
    )
    report = engine().run()
    assert not report.quarantined, report.quarantined
    e = engine()
    rows = query(e, "select column_0, column_1, column_2::varchar, column_3::varchar from bronze.erp order by 1")
    assert rows == [("00123", "Café", "1234.50", "2024-01-31"), ("00124", "Thé", "12.50", "2024-02-01")]
    assert query(e, "select typeof(column_2), typeof(column_3) from bronze.erp limit 1") == [("DECIMAL(12,2)", "DATE")]


def test_a_value_the_declared_type_cannot_hold_quarantines_naming_it(ws: Path, engine) -> None:
    settings(ws, '[landing.t.columns]\namount = "decimal(12,2)"\n')
    write(ws / "landing" / "t" / "a.csv", "id,amount\n1,12.50\n2,12.345\n")
    report = engine().run()
    ((path, reason),) = report.quarantined
    assert path == "t/a.csv"
    assert reason == (
        "column 'amount' is declared decimal(12,2) in [landing.t] of rat.toml but row 2 holds '12.345'; "
        "fix the file or the declared type"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[landing.t]\ndelimiter = ";;"\n', "setting `landing.t.delimiter` must be one character"),
        ('[landing.t]\ndecimal = "x"\n', 'setting `landing.t.decimal` must be "." or ","'),
        ('[landing.t]\nsep = ";"\n', "setting `landing.t.sep` is not a read option"),
        ('[landing.t.columns]\nzip = "zipcode"\n', "setting `landing.t.columns.zip` must be one of text, integer"),
    ],
)
def test_bad_landing_options_are_one_line_errors(ws: Path, text: str, words: str) -> None:
    settings(ws, text)
    done = run_rat("run", "-w", str(ws))
    assert done.returncode == 1
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_readme_documents_every_read_option_with_an_example_that_parses() -> None:
    import re
    import tomllib

    from rat_tui.engine.landing_options import KEYS, parse_landing

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[landing\.erp\].*?)```", readme, re.DOTALL)
    assert block, "the README shows a [landing.<folder>] example"
    example = tomllib.loads(block.group(1).replace("# records", "records"))

    def bad(key: str, why: str) -> Exception:
        return AssertionError(f"{key} {why}")

    options = parse_landing(example["landing"], bad)["erp"]
    assert options.decimal == "," and options.columns["column_2"].describe() == "decimal(12,2)"
    assert set(KEYS) <= set(example["landing"]["erp"]), "every option appears in the README's example"
