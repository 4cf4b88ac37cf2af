"""The examples run for real: the guided notebook top to bottom in a Jupyter kernel (nbclient) on
a fresh demo workspace, and the Streamlit app through Streamlit's own AppTest."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from conftest import run_rat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def fresh_demo(tmp_path: Path) -> Path:
    root = tmp_path / "rat-demo"
    assert run_rat("init", str(root), "--demo").returncode == 0
    assert run_rat("run", "-w", str(root)).returncode == 0
    return root


def outputs(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Each tagged cell's printed text and results, joined."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for o in cell.outputs:
            assert o.output_type != "error", "".join(o.get("traceback", []))
            if o.output_type == "stream":
                texts.append(o.text)
            elif "data" in o:
                texts.append(o.data.get("text/plain", ""))
        out[cell.metadata["tags"][0]] = "".join(texts)
    return out


def test_the_guided_notebook_runs_top_to_bottom(fresh_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(EXAMPLES / "guided_tour.ipynb", as_version=4)
    monkeypatch.setenv("RAT_WORKSPACE", str(fresh_demo))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(fresh_demo.parent)}}
    ).execute()
    seen = outputs(nb)
    assert "rat lake" in seen["open"]
    assert "bronze.orders" in seen["layers"] and "gold.daily_revenue" in seen["layers"]
    assert "order_date" in seen["query"] and "revenue" in seen["query"] and "shape: (5, 3)" in seen["query"]
    # The July file reached gold: a new last day, three more orders.
    drop = seen["drop"]
    assert drop.startswith("ok | last day 2024-06-30 -> 2024-07-02")
    before, after = (int(n) for n in drop.split("| orders ")[1].split(" -> "))
    assert after == before + 3
    # The failed check published nothing.
    assert "failed | check_failed |" in seen["check"] and "revenue < 1000" in seen["check"]
    assert "published: False" in seen["check"]
    assert not [p for p in (fresh_demo / "lake" / "gold").glob("small_days/**/*") if p.is_file()]
    assert "added" in seen["diff"] and "version 0 had 182 days" in seen["diff"]
    assert "polars: 184 rows | duckdb: 184 rows | rat: 184\n" in seen["outside"]


def test_the_streamlit_app_over_gold(fresh_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RAT_WORKSPACE", str(fresh_demo))
    app = AppTest.from_file(str(EXAMPLES / "streamlit_app.py"), default_timeout=60).run()
    assert not app.exception, app.exception
    assert app.title[0].value == "rat · rat-demo: daily revenue"  # the workspace's name: its folder's
    revenue = app.metric[0]
    assert revenue.label == "Revenue" and revenue.value.startswith("646,502")
    table = app.dataframe[0].value
    assert len(table) == 182 and list(table.columns)[:2] == ["order_date", "revenue"]
    # Narrow the dates: the metric and the table follow.
    app.date_input[0].set_value((table["order_date"].min(), table["order_date"].min())).run()
    assert not app.exception
    assert len(app.dataframe[0].value) == 1
    assert app.metric[1].label == "Orders"
    app.selectbox[0].set_value("gold.product_performance").run()
    assert not app.exception and app.subheader[0].value == "gold.product_performance"
    assert os.environ["RAT_WORKSPACE"] == str(fresh_demo)
