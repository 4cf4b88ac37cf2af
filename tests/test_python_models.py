"""Python models: def model(ctx) over polars, with the same headers, checks and materializations."""

from __future__ import annotations

from pathlib import Path

from conftest import query, write

FRAME = """
import polars as pl

RAT = {"checks": {"not_null": ["customer"], "unique": ["customer"]}}


def model(ctx):
    orders = ctx.table("bronze.orders")
    return orders.group_by("customer").agg(pl.col("amount").sum().alias("total")).collect()
"""

ARROW = """
def model(ctx):
    return ctx.table("silver.totals").sort("customer").collect().to_arrow()
"""


def test_python_models_build_from_tables_and_feed_sql(ws: Path, engine) -> None:
    write(ws / "landing" / "orders.csv", "customer,amount\na,1\nb,2\na,3\n")
    write(ws / "models" / "silver" / "totals.py", FRAME)
    write(ws / "models" / "gold" / "arrowed.py", ARROW)
    write(ws / "models" / "gold" / "top.sql", "select customer from silver.totals order by total desc limit 1")
    report = engine().run()
    assert report.built == ["silver.totals", "gold.arrowed", "gold.top"], report.failed
    e = engine()
    assert query(e, "select * from silver.totals order by customer") == [("a", 4), ("b", 2)]
    assert query(e, "select * from gold.arrowed") == [("a", 4), ("b", 2)]
    assert query(e, "select * from gold.top") == [("a",)]


def test_python_model_checks_block_publication(ws: Path, engine) -> None:
    write(ws / "landing" / "orders.csv", "customer,amount\na,1\n")
    write(ws / "models" / "silver" / "totals.py", FRAME)
    engine().run()
    write(ws / "landing" / "orders2.csv", "customer,amount\n,5\n")  # a second table: not read by the model
    write(ws / "landing" / "orders" / "x.csv", "customer,amount\n,5\n")
    text = FRAME.replace(
        'ctx.table("bronze.orders")',
        'ctx.table("bronze.orders").with_columns(pl.lit(None, pl.String).alias("customer"))',
    )
    write(ws / "models" / "silver" / "totals.py", text)
    report = engine().run()
    assert "check not_null(customer) failed" in report.failed["silver.totals"]
    assert query(engine(), "select * from silver.totals") == [("a", 1)]


def test_python_model_errors_name_the_file(ws: Path, engine) -> None:
    write(ws / "landing" / "orders.csv", "customer,amount\na,1\n")
    write(
        ws / "models" / "silver" / "bad.py",
        'def model(ctx):\n    return ctx.table("bronze.orders").select("nope").collect()\n',
    )
    write(
        ws / "models" / "silver" / "wrong_type.py", 'def model(ctx):\n    ctx.table("bronze.orders")\n    return 42\n'
    )
    write(ws / "models" / "silver" / "syntax.py", "def model(ctx)\n    return 1\n")
    report = engine().run()
    assert report.failed["silver.bad"].startswith("models/silver/bad.py: ") and "nope" in report.failed["silver.bad"]
    assert "returned int" in report.failed["silver.wrong_type"]
    assert report.failed["silver.syntax"].startswith("models/silver/syntax.py:1: Python syntax error")
