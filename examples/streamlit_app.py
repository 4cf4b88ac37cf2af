"""A data app over rat's gold layer: `streamlit run examples/streamlit_app.py`.

Reads the workspace named by RAT_WORKSPACE (default ./rat-demo) through the Python API: a read
takes no lock, so it runs beside `rat watch`, and each rerun sees the newest committed versions.
Needs `pip install 'rat-tui[apps]'`.
"""

from __future__ import annotations

import os

import polars as pl
import streamlit as st

import rat_tui


@st.cache_resource
def lake() -> rat_tui.Lake:
    # One Lake for every session: its connection is shared, and each query moves it forward.
    return rat_tui.open(os.environ.get("RAT_WORKSPACE", "rat-demo"))


st.set_page_config(page_title="rat · daily revenue", layout="wide")
st.title(f"rat · {lake().status().workspace}: daily revenue")

daily = (
    lake()
    .sql("select order_date, revenue::double as revenue, orders, customers from gold.daily_revenue order by order_date")
    .pl()
)
first, last = daily["order_date"].min(), daily["order_date"].max()
picked = st.date_input("Days", value=(first, last), min_value=first, max_value=last)
start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last)
shown = daily.filter(pl.col("order_date").is_between(start, end))

left, right = st.columns(2)
left.metric("Revenue", f"{float(shown['revenue'].sum() or 0):,.2f}")
right.metric("Orders", f"{int(shown['orders'].sum() or 0):,}")
st.line_chart(shown, x="order_date", y="revenue")
st.dataframe(shown, hide_index=True)

gold = [t.name for t in lake().tables() if t.layer == "gold"]
table = st.selectbox("A gold table", gold, index=gold.index("gold.daily_revenue"))
st.subheader(table)
st.dataframe(lake().table(table).head(100).collect(), hide_index=True)
