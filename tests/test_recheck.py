"""A model's fingerprint has a data part and a checks part: editing only a check re-checks the
published version, rebuilds nothing, and leaves the models downstream up to date."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import write

from rat_tui.engine import Engine
from rat_tui.engine.events import ModelFinished
from rat_tui.narration import describe_event

ORDERS = "models/silver/orders.sql"


def header(checks: str) -> str:
    return f"/* rat\n[checks]\n{checks}\n*/\nselect id, amount from bronze.orders\n"


def shop(ws: Path, checks: str) -> None:
    write(ws / "landing" / "orders.csv", "id,amount\n1,10\n2,20\n")
    write(ws / ORDERS, header(checks))
    write(ws / "models" / "gold" / "total.sql", "select sum(amount) as total from silver.orders")


def state_of(e: Engine, table: str) -> str:
    entry = e.status().table(table)
    assert entry is not None
    return str(entry.state)


def test_a_changed_check_rechecks_without_rebuilding(ws: Path, engine: Callable[[], Engine]) -> None:
    shop(ws, 'not_null = ["id"]')
    first = engine().run()
    assert sorted(first.built) == ["gold.total", "silver.orders"]
    versions = {t.name: t.version for t in engine().status().tables}

    write(ws / ORDERS, header('not_null = ["id"]\nunique = ["id"]'))
    e = engine()
    status = e.status()
    orders = status.table("silver.orders")
    assert orders is not None and orders.state == "stale" and "re-checks it (no rebuild)" in (orders.detail or "")
    assert state_of(e, "gold.total") == "ok"  # nothing downstream waits for a rebuild
    seen: list[ModelFinished] = []
    e.events.subscribe(lambda ev: seen.append(ev) if isinstance(ev, ModelFinished) else None)
    report = e.run()
    assert report.rechecked == ["silver.orders"] and report.built == [] and report.status == "ok"
    assert "gold.total" in report.up_to_date
    finished = next(ev for ev in seen if ev.model == "silver.orders")
    assert finished.mode == "checks"
    assert describe_event(finished) is not None and "re-checked silver.orders" in str(describe_event(finished))
    assert {t.name: t.version for t in engine().status().tables} == versions  # no new commit anywhere
    assert [r.name for r in engine().state.check_results(report.run_id)] == ["not_null(id)", "unique(id)"]
    assert engine().run().status == "noop"  # the new checks are remembered as passed

    # A check that fails on what is published: check_failed, nothing rebuilt; gold.total read that
    # same version and stays up to date (it is skipped only when it would have been rebuilt).
    write(ws / ORDERS, header('not_null = ["id"]\nexpression = "amount > 15"'))
    failed = engine().run()
    assert failed.status == "failed" and "silver.orders" in failed.failed
    assert failed.skipped == {} and "gold.total" in failed.up_to_date
    e = engine()
    assert state_of(e, "silver.orders") == "check_failed" and state_of(e, "gold.total") == "ok"
    assert {t.name: t.version for t in e.status().tables} == versions
    again = engine().run()
    assert "silver.orders" in again.failed and again.built == []

    # Putting the passing checks back re-checks again; the data was never rebuilt.
    write(ws / ORDERS, header('not_null = ["id"]'))
    back = engine().run()
    assert back.rechecked == ["silver.orders"] and back.built == [] and back.status == "ok"
    assert state_of(engine(), "gold.total") == "ok"


def test_the_checks_file_and_python_models_recheck_too(ws: Path, engine: Callable[[], Engine]) -> None:
    shop(ws, 'not_null = ["id"]')
    write(
        ws / "models" / "gold" / "py_total.py",
        'RAT = {"checks": {"not_null": ["total"]}}\n\n\ndef model(ctx):\n'
        '    return ctx.table("silver.orders").select("amount").sum().rename({"amount": "total"})\n',
    )
    assert sorted(engine().run().built) == ["gold.py_total", "gold.total", "silver.orders"]

    write(
        ws / "models" / "silver" / "orders.checks.sql",
        "-- name: small\nselect * from silver.orders where amount > 100;\n",
    )
    report = engine().run()
    assert report.rechecked == ["silver.orders"] and report.built == []

    write(
        ws / "models" / "gold" / "py_total.py",
        'RAT = {\n    "checks": {"not_null": ["total"], "unique": ["total"]},\n}\n\n\ndef model(ctx):\n'
        '    return ctx.table("silver.orders").select("amount").sum().rename({"amount": "total"})\n',
    )
    report = engine().run()
    assert report.rechecked == ["gold.py_total"] and report.built == []


def test_a_changed_query_or_setting_still_rebuilds_downstream(ws: Path, engine: Callable[[], Engine]) -> None:
    shop(ws, 'not_null = ["id"]')
    engine().run()
    write(ws / ORDERS, header('not_null = ["id"]').replace("select id, amount", "select id, amount * 2 as amount"))
    assert sorted(engine().run().built) == ["gold.total", "silver.orders"]
    write(
        ws / ORDERS,
        '/* rat\nmaterialized = "view"\n[checks]\nnot_null = ["id"]\n*/\nselect id, amount from bronze.orders\n',
    )
    assert "silver.orders" in engine().run().built
