"""Schema changes are announced, never silent: at ingest, in the table's history, in rat status and
the workbench; and no value changes when its column's type does."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import query, run_rat, wait_for, write
from deltalake import DeltaTable

from rat_tui.engine import events as ev


def test_a_widening_is_announced_at_ingest_in_history_and_in_the_commit(ws: Path) -> None:
    write(ws / "landing" / "inv" / "2024-01.csv", "id;amount\n1;999,16\n")
    assert run_rat("run", "-w", str(ws)).returncode == 0
    write(ws / "landing" / "inv" / "2024-04.csv", "id;amount;note\n2;n/a;late\n")
    done = run_rat("run", "-w", str(ws))
    assert done.returncode == 0, done.stderr
    assert (
        "schema change in bronze.inv: column 'amount' widened DOUBLE -> VARCHAR by landing/inv/2024-04.csv "
        "('n/a' is not a DOUBLE)"
    ) in done.stderr
    assert "schema change in bronze.inv: column 'note' added (VARCHAR) by landing/inv/2024-04.csv" in done.stderr
    history = json.loads(run_rat("history", "-w", str(ws), "bronze.inv", "--json").stdout)
    changes = history[0]["schema_changes"]
    assert {(c["column"], c["change"], c["old_type"], c["new_type"], c["file"]) for c in changes} == {
        ("amount", "widened", "DOUBLE", "VARCHAR", "inv/2024-04.csv"),
        ("note", "added", None, "VARCHAR", "inv/2024-04.csv"),
    }
    assert "amount DOUBLE->VARCHAR" in run_rat("history", "-w", str(ws), "bronze.inv").stdout
    commit = DeltaTable(str(ws / "lake" / "bronze" / "inv")).history(1)[0]
    assert json.loads(commit["rat.schema_changes"]) == changes  # with the table, readable by any Delta tool


def test_json_number_then_string_widens_with_the_text_of_each_value(ws: Path, engine) -> None:
    write(ws / "landing" / "items" / "1.ndjson", '{"id": 1, "qty": 1}\n{"id": 2, "qty": 10}\n')
    engine().run()
    seen: list[ev.Event] = []
    e = engine()
    e.events.subscribe(seen.append)
    write(ws / "landing" / "items" / "2.ndjson", '{"id": 3, "qty": "2"}\n')
    e.run()
    changes = [x for x in seen if isinstance(x, ev.SchemaChanged)]
    assert [(c.table, c.column, c.change, c.old_type, c.new_type, c.file, c.example) for c in changes] == [
        ("bronze.items", "qty", "widened", "BIGINT", "VARCHAR", "items/2.ndjson", "2")
    ]
    assert query(engine(), "select id, qty from bronze.items order by id") == [(1, "1"), (2, "10"), (3, "2")]


def test_a_nested_type_change_is_announced_and_keeps_every_value(ws: Path, engine) -> None:
    write(ws / "landing" / "c" / "1.json", json.dumps([{"id": 1, "addr": {"city": "Berlin"}}]))
    engine().run()
    seen: list[ev.Event] = []
    e = engine()
    e.events.subscribe(seen.append)
    write(ws / "landing" / "c" / "2.json", json.dumps([{"id": 2, "addr": {"city": "Paris", "zip": "75001"}}]))
    e.run()
    changes = [x for x in seen if isinstance(x, ev.SchemaChanged)]
    assert [(c.change, c.old_type, c.new_type) for c in changes] == [
        ("nested", "STRUCT(city VARCHAR)", "STRUCT(city VARCHAR, zip VARCHAR)")
    ]
    assert query(engine(), "select id, addr.city, addr.zip from bronze.c order by id") == [
        (1, "Berlin", None),
        (2, "Paris", "75001"),
    ]
    # An object where there was text: the column is text, objects as their JSON text.
    write(ws / "landing" / "c" / "3.json", json.dumps([{"id": 3, "addr": "unknown"}]))
    engine().run()
    assert query(engine(), "select id, addr from bronze.c order by id") == [
        (1, '{"city":"Berlin","zip":null}'),
        (2, '{"city":"Paris","zip":"75001"}'),
        (3, "unknown"),
    ]


def test_a_boolean_beside_a_number_is_never_turned_into_one(ws: Path, engine) -> None:
    write(ws / "landing" / "flags.json", json.dumps([{"id": 1, "v": True}, {"id": 2, "v": 2}]))
    engine().run()
    assert query(engine(), "select id, v from bronze.flags order by id") == [(1, "true"), (2, "2")]
    write(ws / "landing" / "b" / "1.csv", "id,ok\n1,true\n")
    engine().run()
    write(ws / "landing" / "b" / "2.csv", "id,ok\n2,5\n")
    engine().run()
    assert query(engine(), "select id, ok from bronze.b order by id") == [(1, "true"), (2, "5")]


def test_status_and_the_workbench_show_schema_changes(ws: Path) -> None:
    write(ws / "landing" / "t" / "1.csv", "id,v\n1,2\n")
    run_rat("run", "-w", str(ws))
    write(ws / "landing" / "t" / "2.csv", "id,v\n2,x\n")
    run_rat("run", "-w", str(ws))
    status = json.loads(run_rat("status", "-w", str(ws), "--json").stdout)
    assert [(c["table"], c["column"], c["old_type"], c["new_type"]) for c in status["schema_changes"]] == [
        ("bronze.t", "v", "BIGINT", "VARCHAR")
    ]
    text = run_rat("status", "-w", str(ws)).stdout
    assert "schema change in bronze.t: column 'v' widened BIGINT -> VARCHAR by landing/t/2.csv" in text


async def test_the_workbench_notifies_a_schema_change(ws: Path) -> None:
    from rat_tui.app import RatApp

    write(ws / "landing" / "t" / "1.csv", "id,v\n1,2\n")
    run_rat("run", "-w", str(ws))
    app = RatApp(ws, watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.mode == "watching")
        write(ws / "landing" / "t" / "2.csv", "id,v\n2,x\n")
        await wait_for(
            pilot,
            lambda: any("column 'v' widened BIGINT -> VARCHAR" in n.message for n in app._notifications),
            timeout=20,
        )
        # A settings block rat does not read is a warning there too.
        write(ws / "models" / "silver" / "s.sql", '/* RAT\n[checks]\nunique = ["id"]\n*/\nselect id from bronze.t\n')
        await wait_for(
            pilot,
            lambda: any("looks like rat settings but is not read" in n.message for n in app._notifications),
            timeout=20,
        )


def test_a_check_that_cannot_run_names_only_itself(ws: Path, engine) -> None:
    write(ws / "landing" / "t.csv", "id,name\n1,Ann\n1,Bob\n")
    write(
        ws / "models" / "silver" / "t.sql",
        '/* rat\n[checks]\nnot_null = ["name"]\nunique = ["id"]\nexpression = ["name > 5", "id > 0"]\n*/\n'
        "select * exclude (_source_file, _ingested_at, _batch_id) from bronze.t\n",
    )
    report = engine().run()
    results = {r.name: r for r in report.checks["silver.t"]}
    assert results["expression(name > 5)"].status == "error"  # a VARCHAR compared with a number
    assert "Cannot compare values of type VARCHAR" in (results["expression(name > 5)"].message or "")
    assert results["not_null(name)"].status == "pass"
    assert results["expression(id > 0)"].status == "pass"
    assert results["unique(id)"].status == "fail" and results["unique(id)"].failing == 1
