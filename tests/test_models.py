"""Models: headers, dependencies read from the SQL, planning errors, selectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write

from rat_tui.engine.errors import ModelError
from rat_tui.engine.model_parse import parse_header, sql_dependencies
from rat_tui.engine.models import discover, plan, select
from rat_tui.engine.workspace import Workspace


def test_dependencies_come_from_the_sql() -> None:
    sql = """
    with recent as (select * from bronze.orders where d > '2024-01-01'),
         c as (select * from silver.customers)
    select * from recent r
    join c using (customer_id)
    left join gold.targets t on t.id = r.id
    where r.id in (select id from bronze."Returns") and exists (select 1 from silver.x)
    """
    assert sql_dependencies(sql, "m.sql") == (
        "bronze.orders",
        "bronze.returns",
        "gold.targets",
        "silver.customers",
        "silver.x",
    )


def test_table_functions_and_literals_are_not_dependencies() -> None:
    assert sql_dependencies("select 'bronze.orders' as s, * from range(3)", "m.sql") == ()


def test_a_bare_table_name_is_an_error() -> None:
    with pytest.raises(ModelError, match=r"m\.sql: table 'orders' has no layer; name it bronze\.orders"):
        sql_dependencies("select * from orders", "m.sql")


def test_syntax_error_names_the_file() -> None:
    with pytest.raises(ModelError, match=r"^m\.sql(:\d+)?: .*syntax error"):
        sql_dependencies("select * frm bronze.x", "m.sql")


def test_two_statements_are_refused() -> None:
    with pytest.raises(ModelError, match="exactly one SELECT"):
        sql_dependencies("select 1; select 2", "m.sql")


def test_header_is_toml_in_a_block_comment() -> None:
    text = '/* rat\nmaterialized = "view"\n[checks]\nunique = ["id"]\n*/\nselect 1'
    assert parse_header(Path("m.sql"), text) == {"materialized": "view", "checks": {"unique": ["id"]}}
    assert parse_header(Path("m.sql"), "select 1 /* rat x = 1 */") == {}


def test_bad_header_names_file_and_line() -> None:
    with pytest.raises(ModelError, match=r"m\.sql:4: invalid rat header"):
        parse_header(Path("m.sql"), '/* rat\nmaterialized = "table"\nunique = [\n*/\nselect 1')
    with pytest.raises(ModelError, match=r"m\.sql:3: invalid rat header"):
        parse_header(Path("m.sql"), '/* rat\nmaterialized = "table"\nunique = 1 2\n*/\nselect 1')


def _ws(root: Path, models: dict[str, str]) -> Workspace:
    from rat_tui.engine.workspace import init_workspace

    init_workspace(root)
    for name, sql in models.items():
        layer, table = name.split(".")
        write(root / "models" / layer / f"{table}.sql", sql)
    return Workspace(root)


def test_plan_orders_by_dependency_and_reports_unknown_tables_and_cycles(tmp_path: Path) -> None:
    ws = _ws(
        tmp_path / "w",
        {
            "silver.a": "select * from bronze.src",
            "silver.b": "select * from silver.a",
            "gold.c": "select * from silver.b join silver.a using (id)",
            "gold.lost": "select * from bronze.nothing",
            "gold.ghost": "select * from silver.missing",
            "gold.x": "select * from gold.y",
            "gold.y": "select * from gold.x",
        },
    )
    graph = plan(ws, discover(ws), {"bronze.src"})
    order = graph.order
    assert order.index("silver.a") < order.index("silver.b") < order.index("gold.c")
    assert "reads unknown table bronze.nothing" in str(graph.errors["gold.lost"])
    assert "models/gold/lost.sql" in str(graph.errors["gold.lost"])
    assert "there is no models/silver/missing.sql" in str(graph.errors["gold.ghost"])
    assert "dependency cycle" in str(graph.errors["gold.x"]) and "dependency cycle" in str(graph.errors["gold.y"])
    assert not {"silver.a", "silver.b", "gold.c"} & set(graph.errors)


def test_selectors(tmp_path: Path) -> None:
    ws = _ws(
        tmp_path / "w",
        {
            "silver.a": "select 1 as id",
            "silver.b": "select * from silver.a",
            "gold.c": "select * from silver.b",
            "gold.d": "select 1 as id",
            "gold.a": "select 2 as id",
        },
    )
    graph = plan(ws, discover(ws), set())
    assert select(graph, []) == set(graph.models)
    assert select(graph, ["b"]) == {"silver.b"}
    assert select(graph, ["silver.b+"]) == {"silver.b", "gold.c"}
    assert select(graph, ["+gold.c"]) == {"silver.a", "silver.b", "gold.c"}
    assert select(graph, ["+b+"]) == {"silver.a", "silver.b", "gold.c"}
    assert select(graph, ["gold"]) == {"gold.c", "gold.d", "gold.a"}
    with pytest.raises(ModelError, match="ambiguous"):
        select(graph, ["a"])
    with pytest.raises(ModelError, match="matches no model"):
        select(graph, ["nope"])


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ('materialized = "snapshot"', "materialized = 'snapshot' is not one of"),
        ('materialized = "incremental"\nstrategy = "upsert"', "strategy = 'upsert' is not one of"),
        ('materialized = "incremental"\nstrategy = "merge"', 'strategy = "merge" needs unique_key'),
        ('materialized = "incremental"\nstrategy = "partition"', 'strategy = "partition" needs partition_by'),
        ('materialized = "incremental"', "incremental_input"),
        ('[checks]\nnot_nul = ["id"]', "unknown check 'not_nul'"),
        ('[checks]\nrelationships = { column = "id", to = "silver.a" }', "layer.table.column"),
        ('[checks]\nunique = { columns = ["id"], severity = "fatal" }', "severity = 'fatal'"),
    ],
)
def test_bad_settings_are_model_errors(tmp_path: Path, header: str, needle: str) -> None:
    ws = _ws(tmp_path / "w", {"silver.m": f"/* rat\n{header}\n*/\nselect * from bronze.a join bronze.b using (id)"})
    error = str(discover(ws)["silver.m"].error or "")
    assert error.startswith("models/silver/m.sql") and needle in error, error


def test_python_model_settings_and_dependencies_are_read_without_running_it(tmp_path: Path) -> None:
    source = """
import polars as pl

RAT = {"materialized": "table", "checks": {"not_null": ["id"]}}

def model(ctx):
    raise SystemExit("never run during discovery")
    return ctx.table("silver.orders").join(ctx.table("bronze.customers"), on="id")
"""
    ws = _ws(tmp_path / "w", {})
    write(ws.root / "models" / "gold" / "joined.py", source)
    model = discover(ws)["gold.joined"]
    assert model.error is None and model.is_python
    assert model.depends_on == ("bronze.customers", "silver.orders")
    assert [c.name for c in model.checks] == ["not_null(id)"]


def test_python_model_needs_literal_table_names(tmp_path: Path) -> None:
    ws = _ws(tmp_path / "w", {})
    write(
        ws.root / "models" / "gold" / "dyn.py", "def model(ctx):\n    name = 'silver.x'\n    return ctx.table(name)\n"
    )
    assert "ctx.table() needs a literal name" in str(discover(ws)["gold.dyn"].error)
