"""End-to-end test of the demo shop, driven through the `rat` command line exactly as a user would.

The fixture runs `rat init DIR --demo` and `rat run -w DIR` once per module.  The expected gold figures
are computed here, independently of rat and of the model SQL: the landing files are read with the
standard library (csv, json) and cleaned with the rules documented in sample_data/README.md:

- orders: one row per order_id, the row from the latest monthly export wins; `customer_id` (Jan-Mar)
  and `cust_id` (Apr-Jun) are the same column; dates are `YYYY-MM-DD` or `DD/MM/YYYY`; amounts are
  text with currency signs and thousands separators; codes carry stray blanks and mixed case;
  `canceled` means `cancelled`; cancelled orders count only as cancelled orders/units;
- order items: exact duplicate lines; quantity/unit_price sometimes JSON strings;
- customers/products: one row per cleaned id.

A separate test checks that this independent cleaning reproduces the clean truth of the generator
(scripts/make_sample_data.py), so a disagreement between rat and this file can be pinned on rat.
"""

from __future__ import annotations

import csv
import datetime as dt
import filecmp
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

RAT = Path(sys.executable).parent / "rat"
REPO = Path(__file__).resolve().parents[1]
SAMPLE_LANDING = REPO / "sample_data" / "landing"
GENERATOR = REPO / "scripts" / "make_sample_data.py"

MONEY_TOL = Decimal("0.01")
CENT = Decimal("0.01")
GOLD_TABLES = ["gold.daily_revenue", "gold.customer_lifetime_value", "gold.product_performance"]
SILVER_TABLES = ["silver.customers", "silver.order_items", "silver.orders", "silver.product_prices", "silver.products"]
BRONZE_SOURCES = {  # bronze table -> the landing files (relative paths) it must come from
    "bronze.customers": {"customers.csv"},
    "bronze.products": {"products.csv"},
    "bronze.orders": {f"orders/2024-{m:02d}.csv" for m in range(1, 7)},
    "bronze.order_items": {"order_items.ndjson"},
    "bronze.product_prices": {"product_prices.parquet"},
}
BRONZE_TABLES = sorted(BRONZE_SOURCES)


# --------------------------------------------------------------------------- running rat
def rat(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(RAT), *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, (
            f"`rat {' '.join(args)}` exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def query_csv(ws: Path, sql: str) -> list[dict[str, str]]:
    proc = rat("query", "-w", str(ws), sql, "--format", "csv")
    return list(csv.DictReader(io.StringIO(proc.stdout)))


def query_json(ws: Path, sql: str) -> list[dict]:
    proc = rat("query", "-w", str(ws), sql, "--format", "json")
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert RAT.exists(), f"the rat executable is missing: {RAT}"
    ws = tmp_path_factory.mktemp("rat_e2e") / "demo"
    rat("init", str(ws), "--demo")
    # init copies the package's sample landing data; make sure what we compute from is what rat ingests
    for rel in (p.relative_to(SAMPLE_LANDING) for p in SAMPLE_LANDING.rglob("*") if p.is_file()):
        assert filecmp.cmp(SAMPLE_LANDING / rel, ws / "landing" / rel, shallow=False), f"landing/{rel} differs"
    t0 = time.perf_counter()
    proc = rat("run", "-w", str(ws), timeout=300)
    print(f"\nfirst `rat run`: {time.perf_counter() - t0:.2f}s\n{proc.stderr}")
    return ws


# --------------------------------------------------------------------------- independent expectation
def clean_code(value: object) -> str | None:
    text = ("" if value is None else str(value)).strip().upper()
    return text or None


def parse_date(text: str) -> dt.date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"unknown date format: {text!r}")


def parse_amount(text: str) -> Decimal:
    """`$1,234.50`, `€12.00`, `12.5`, ` 99.90 ` -> Decimal; every amount is in the one shop currency."""
    digits = re.sub(r"[^0-9.]", "", text)
    assert digits.count(".") <= 1 and digits, f"unparseable amount {text!r}"
    return Decimal(digits).quantize(CENT)


def parse_status(text: str) -> str:
    status = text.strip().lower()
    status = "cancelled" if status == "canceled" else status
    assert status in {"new", "paid", "shipped", "cancelled"}, f"unknown status {text!r}"
    return status


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str | None
    order_date: dt.date
    status: str
    amount: Decimal


@dataclass
class Expected:
    orders: dict[str, Order]
    items: dict[tuple[str, int], tuple[str, int, Decimal]]  # (order_id, line_no) -> (sku, qty, unit price)
    customers: set[str]
    skus: set[str]
    order_csv_data_lines: dict[str, int]  # relative path -> data lines (without header)
    daily: dict[dt.date, dict] = field(default_factory=dict)
    per_customer: dict[str, dict] = field(default_factory=dict)
    per_sku: dict[str, dict] = field(default_factory=dict)
    total_revenue: Decimal = Decimal(0)
    guest_revenue: Decimal = Decimal(0)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def compute_expected(landing: Path) -> Expected:
    # ---- orders: monthly exports; the row from the latest file wins
    order_files = sorted((landing / "orders").glob("*.csv"))
    assert [p.name for p in order_files] == [f"2024-{m:02d}.csv" for m in range(1, 7)]
    chosen: dict[str, tuple[int, Order]] = {}
    data_lines: dict[str, int] = {}
    for rank, path in enumerate(order_files):  # file names sort by month
        header, rows = read_csv(path)
        data_lines[f"orders/{path.name}"] = len(rows)
        col = {name.strip(): i for i, name in enumerate(header)}
        cust_col = col["customer_id"] if "customer_id" in col else col["cust_id"]  # renamed from April on
        for row in rows:
            order = Order(
                order_id=clean_code(row[col["order_id"]]),
                customer_id=clean_code(row[cust_col]),
                order_date=parse_date(row[col["order_date"]]),
                status=parse_status(row[col["status"]]),
                amount=parse_amount(row[col["amount"]]),
            )
            previous = chosen.get(order.order_id)
            if previous is not None and previous[0] == rank:
                # a copy inside one export must be an exact copy, otherwise "latest file wins" is ambiguous
                assert previous[1] == order, f"{path.name}: conflicting rows for {order.order_id}"
            if previous is None or previous[0] <= rank:
                chosen[order.order_id] = (rank, order)
    orders = {oid: o for oid, (_, o) in chosen.items()}

    # ---- order items: NDJSON, exact duplicate lines, numbers sometimes as JSON strings
    items: dict[tuple[str, int], tuple[str, int, Decimal]] = {}
    with open(landing / "order_items.ndjson", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            obj = json.loads(line)
            key = (clean_code(obj["order_id"]), int(str(obj["line_no"]).strip()))
            value = (clean_code(obj["sku"]), int(str(obj["quantity"]).strip()), Decimal(str(obj["unit_price"]).strip()))
            assert items.setdefault(key, value) == value, f"conflicting order item lines for {key}"

    # ---- customers and products: one per cleaned id
    _, cust_rows = read_csv(landing / "customers.csv")
    customers = {clean_code(r[0]) for r in cust_rows} - {None}
    _, prod_rows = read_csv(landing / "products.csv")
    skus = {clean_code(r[0]) for r in prod_rows} - {None}

    exp = Expected(orders, items, customers, skus, data_lines)

    # units per order, and each order's amount is the sum of its lines (checks the amount parsing)
    lines_of: dict[str, list[tuple[str, int, Decimal]]] = defaultdict(list)
    for (oid, _), value in items.items():
        assert oid in orders, f"order item for unknown order {oid}"
        lines_of[oid].append(value)
    for oid, order in orders.items():
        line_total = sum((q * p for _, q, p in lines_of[oid]), Decimal(0))
        assert abs(line_total - order.amount) <= MONEY_TOL, f"{oid}: amount {order.amount} != lines {line_total}"

    # ---- gold.daily_revenue: every calendar day between the first and the last order
    first = min(o.order_date for o in orders.values())
    last = max(o.order_date for o in orders.values())
    day = first
    while day <= last:
        exp.daily[day] = {"orders": 0, "cancelled_orders": 0, "customers": set(), "units": 0, "revenue": Decimal(0)}
        day += dt.timedelta(days=1)
    for oid, o in orders.items():
        d = exp.daily[o.order_date]
        if o.status == "cancelled":
            d["cancelled_orders"] += 1
            continue
        d["orders"] += 1
        if o.customer_id:
            d["customers"].add(o.customer_id)
        d["units"] += sum(q for _, q, _ in lines_of[oid])
        d["revenue"] += o.amount
    cumulative = Decimal(0)
    for d in exp.daily.values():
        d["customers"] = len(d["customers"])
        cumulative += d["revenue"]
        d["cumulative_revenue"] = cumulative
    exp.total_revenue = cumulative
    exp.guest_revenue = sum(
        (o.amount for o in orders.values() if o.customer_id is None and o.status != "cancelled"), Decimal(0)
    )

    # ---- gold.customer_lifetime_value: every customer, guests left out
    for cid in customers:
        exp.per_customer[cid] = {"orders": 0, "cancelled_orders": 0, "revenue": Decimal(0), "dates": []}
    for o in orders.values():
        if o.customer_id is None:
            continue
        assert o.customer_id in customers, f"order {o.order_id} of unknown customer {o.customer_id}"
        c = exp.per_customer[o.customer_id]
        if o.status == "cancelled":
            c["cancelled_orders"] += 1
        else:
            c["orders"] += 1
            c["revenue"] += o.amount
            c["dates"].append(o.order_date)
    for c in exp.per_customer.values():
        n = c["orders"]
        c["segment"] = "no_orders" if n == 0 else "one_time" if n == 1 else "repeat" if n < 5 else "loyal"
        c["first_order_date"] = min(c["dates"]) if c["dates"] else None
        c["last_order_date"] = max(c["dates"]) if c["dates"] else None

    # ---- gold.product_performance: every product, from order lines joined with their order
    for sku in skus:
        exp.per_sku[sku] = {"orders": set(), "units": 0, "revenue": Decimal(0), "cancelled_units": 0}
    for (oid, _), (sku, qty, price) in items.items():
        assert sku in skus, f"order item with unknown sku {sku}"
        s = exp.per_sku[sku]
        if orders[oid].status == "cancelled":
            s["cancelled_units"] += qty
        else:
            s["orders"].add(oid)
            s["units"] += qty
            s["revenue"] += qty * price
    for s in exp.per_sku.values():
        s["orders"] = len(s["orders"])
    return exp


@pytest.fixture(scope="module")
def expected() -> Expected:
    return compute_expected(SAMPLE_LANDING)


def money(text: str) -> Decimal:
    return Decimal(text)


def money_ok(actual: str, want: Decimal) -> bool:
    return abs(money(actual) - want) <= MONEY_TOL


def fail_with(problems: list[str], what: str) -> None:
    if problems:
        shown = "\n  ".join(problems[:40])
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        pytest.fail(f"{what}: {len(problems)} mismatches\n  {shown}{more}")


# --------------------------------------------------------------------------- the independent computation itself
def test_independent_cleaning_matches_generator_truth(expected: Expected) -> None:
    """Our own cleaning of the landing files gives the generator's clean truth (so it can referee rat)."""
    spec = importlib.util.spec_from_file_location("make_sample_data", GENERATOR)
    if spec is None or spec.loader is None:
        pytest.skip("scripts/make_sample_data.py not available")
    gen = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_sample_data", gen)
    spec.loader.exec_module(gen)
    truth = gen.build()["truth"]

    assert set(expected.orders) == set(truth["orders"])
    problems = []
    for oid, (cust, day, status, _ship, _channel, cents) in truth["orders"].items():
        got = expected.orders[oid]
        if (got.customer_id, got.order_date, got.status, got.amount) != (cust, day, status, Decimal(cents) / 100):
            problems.append(f"{oid}: ours {got} truth {(cust, day, status, cents)}")
    fail_with(problems, "orders vs generator truth")
    assert {k: (s, q, Decimal(c) / 100) for k, (s, q, c) in truth["order_items"].items()} == expected.items
    assert expected.customers == set(truth["customers"])
    assert expected.skus == set(truth["products"])
    # the documented sizes (README): 800 customers, 120 products, 2,470 orders in 2,672 rows, 6,886 lines
    assert (len(expected.customers), len(expected.skus), len(expected.orders), len(expected.items)) == (
        800,
        120,
        2470,
        6886,
    )
    assert sum(expected.order_csv_data_lines.values()) == 2672


# --------------------------------------------------------------------------- gold vs the independent computation
def test_daily_revenue_matches_independent_computation(workspace: Path, expected: Expected) -> None:
    rows = query_csv(workspace, "select * from gold.daily_revenue order by order_date")
    got_days = [dt.date.fromisoformat(r["order_date"]) for r in rows]
    assert got_days == list(expected.daily), "gold.daily_revenue must have exactly one row per calendar day"
    assert len(rows) == 182  # 2024-01-01 .. 2024-06-30 (leap year)

    problems = []
    for r in rows:
        day = dt.date.fromisoformat(r["order_date"])
        want = expected.daily[day]
        for col in ("orders", "cancelled_orders", "customers", "units"):
            if int(r[col]) != want[col]:
                problems.append(f"{day} {col}: rat {r[col]} expected {want[col]}")
        for col in ("revenue", "cumulative_revenue"):
            if not money_ok(r[col], want[col]):
                problems.append(f"{day} {col}: rat {r[col]} expected {want[col]}")
        if want["orders"]:
            aov = (want["revenue"] / want["orders"]).quantize(CENT)
            if not money_ok(r["avg_order_value"], aov):
                problems.append(f"{day} avg_order_value: rat {r['avg_order_value']} expected {aov}")
        elif r["avg_order_value"] != "":
            problems.append(f"{day} avg_order_value: rat {r['avg_order_value']!r} expected NULL")
    fail_with(problems, "gold.daily_revenue vs independent computation")

    total = sum((money(r["revenue"]) for r in rows), Decimal(0))
    print(f"\ntotal revenue: rat {total}, expected {expected.total_revenue}")
    assert abs(total - expected.total_revenue) <= MONEY_TOL
    assert money_ok(rows[-1]["cumulative_revenue"], expected.total_revenue)


def test_customer_lifetime_value_matches_independent_computation(workspace: Path, expected: Expected) -> None:
    rows = query_json(
        workspace,
        "select customer_id, orders, cancelled_orders, CAST(revenue AS VARCHAR) AS revenue, "
        "CAST(first_order_date AS VARCHAR) AS first_order_date, CAST(last_order_date AS VARCHAR) AS last_order_date, "
        "segment from gold.customer_lifetime_value",
    )
    got = {r["customer_id"]: r for r in rows}
    assert len(got) == len(rows), "customer_id must be unique in gold.customer_lifetime_value"
    assert set(got) == expected.customers, "one row per customer, including customers without orders"

    problems = []
    for cid, want in sorted(expected.per_customer.items()):
        r = got[cid]
        for col in ("orders", "cancelled_orders", "segment"):
            if r[col] != want[col]:
                problems.append(f"{cid} {col}: rat {r[col]} expected {want[col]}")
        if not money_ok(r["revenue"], want["revenue"]):
            problems.append(f"{cid} revenue: rat {r['revenue']} expected {want['revenue']}")
        for col in ("first_order_date", "last_order_date"):
            want_date = want[col].isoformat() if want[col] else None
            if r[col] != want_date:
                problems.append(f"{cid} {col}: rat {r[col]} expected {want_date}")
    fail_with(problems, "gold.customer_lifetime_value vs independent computation")

    # guests are left out: customer revenue + guest revenue = total revenue
    customer_total = sum((money(r["revenue"]) for r in rows), Decimal(0))
    assert abs(customer_total + expected.guest_revenue - expected.total_revenue) <= MONEY_TOL


def test_product_performance_matches_independent_computation(workspace: Path, expected: Expected) -> None:
    rows = query_csv(
        workspace, "select sku, orders, units, revenue, cancelled_units, avg_unit_price from gold.product_performance"
    )
    got = {r["sku"]: r for r in rows}
    assert len(got) == len(rows), "sku must be unique in gold.product_performance"
    assert set(got) == expected.skus, "one row per product"

    problems = []
    for sku, want in sorted(expected.per_sku.items()):
        r = got[sku]
        for col in ("orders", "units", "cancelled_units"):
            if int(r[col]) != want[col]:
                problems.append(f"{sku} {col}: rat {r[col]} expected {want[col]}")
        if not money_ok(r["revenue"], want["revenue"]):
            problems.append(f"{sku} revenue: rat {r['revenue']} expected {want['revenue']}")
        if want["units"]:
            asp = (want["revenue"] / want["units"]).quantize(CENT)
            if not money_ok(r["avg_unit_price"], asp):
                problems.append(f"{sku} avg_unit_price: rat {r['avg_unit_price']} expected {asp}")
    fail_with(problems, "gold.product_performance vs independent computation")

    product_total = sum((money(r["revenue"]) for r in rows), Decimal(0))
    assert abs(product_total - expected.total_revenue) <= MONEY_TOL


# --------------------------------------------------------------------------- query (table format) and status
@pytest.mark.parametrize("table", GOLD_TABLES)
def test_query_table_format_prints_rows(workspace: Path, table: str) -> None:
    proc = rat("query", "-w", str(workspace), f"select * from {table}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) >= 3, f"expected a header, a rule and rows:\n{proc.stdout}"
    assert set(lines[1].replace(" ", "")) == {"-"}, f"second line should be the rule under the header: {lines[1]!r}"
    first_col = {"gold.daily_revenue": "order_date", "gold.customer_lifetime_value": "customer_id"}.get(table, "sku")
    assert lines[0].split()[0] == first_col
    want_rows = {"gold.daily_revenue": 182, "gold.customer_lifetime_value": 800, "gold.product_performance": 120}
    n = want_rows[table]
    # The first 40 rows, then a line counting the rest; --max-rows 0 prints every row.
    assert len(lines) - 3 == 40
    assert lines[-1] == f"… {n - 40:,} more rows ({n:,} in all); --format csv or -o FILE.csv for all of them"
    every = rat("query", "-w", str(workspace), f"select * from {table}", "--max-rows", "0")
    assert len([ln for ln in every.stdout.splitlines() if ln.strip()]) - 2 == n


def test_status_lists_every_table_ok_with_true_row_counts(workspace: Path) -> None:
    proc = rat("status", "-w", str(workspace), "--json")
    status = json.loads(proc.stdout)
    tables = {t["name"]: t for t in status["tables"]}
    assert set(BRONZE_TABLES + SILVER_TABLES + GOLD_TABLES) <= set(tables), sorted(tables)
    for name, t in tables.items():
        assert t["state"] == "ok", f"{name}: {t}"
        assert t["layer"] == name.split(".")[0], f"{name}: {t}"

    union = " union all ".join(f"select '{name}' as name, count(*) as n from {name}" for name in sorted(tables))
    counts = {r["name"]: int(r["n"]) for r in query_csv(workspace, union)}
    mismatched = {n: (tables[n]["rows"], counts[n]) for n in tables if tables[n]["rows"] != counts[n]}
    assert not mismatched, f"status rows vs count(*): {mismatched}"
    # the documented sizes
    assert counts["bronze.orders"] == 2672 and counts["silver.orders"] == 2470
    assert counts["silver.customers"] == 800 and counts["silver.products"] == 120
    assert counts["silver.order_items"] == 6886


# --------------------------------------------------------------------------- bronze lineage
def test_bronze_rows_carry_lineage(workspace: Path, expected: Expected) -> None:
    sql = " union all ".join(
        f"select '{t}' as tbl, _source_file, count(*) as n, "
        f"count(*) filter (where _ingested_at is null) as no_ingested_at, "
        f"count(*) filter (where _batch_id is null or _batch_id = '') as no_batch_id "
        f"from {t} group by _source_file"
        for t in BRONZE_TABLES
    )
    rows = query_csv(workspace, sql)
    by_table: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        assert r["_source_file"] != "", f"{r['tbl']}: {r['n']} rows without _source_file"
        assert r["no_ingested_at"] == "0", f"{r['tbl']} ({r['_source_file']}): rows without _ingested_at"
        assert r["no_batch_id"] == "0", f"{r['tbl']} ({r['_source_file']}): rows without _batch_id"
        by_table[r["tbl"]][r["_source_file"]] = int(r["n"])

    for table, files in BRONZE_SOURCES.items():
        assert set(by_table[table]) == files, f"{table}: _source_file values {sorted(by_table[table])}"
        for rel in files:
            assert not Path(rel).is_absolute() and (workspace / "landing" / rel).is_file(), rel

    # every data line of each monthly export is one bronze row
    assert by_table["bronze.orders"] == expected.order_csv_data_lines
    assert sum(by_table["bronze.orders"].values()) == sum(expected.order_csv_data_lines.values()) == 2672
    with open(SAMPLE_LANDING / "order_items.ndjson", encoding="utf-8") as fh:
        ndjson_lines = sum(1 for line in fh if line.strip())
    assert by_table["bronze.order_items"] == {"order_items.ndjson": ndjson_lines}


# --------------------------------------------------------------------------- second run is a no-op
def test_second_run_is_a_fast_noop(workspace: Path) -> None:
    t0 = time.perf_counter()
    proc = rat("run", "-w", str(workspace))
    seconds = time.perf_counter() - t0
    limit = 2.0 if os.environ.get("CI") else 1.0
    print(f"\nsecond `rat run` (no-op): {seconds:.3f}s wall (limit {limit:.0f}s); stderr: {proc.stderr.strip()}")
    assert "nothing to do" in proc.stderr
    assert seconds < limit, f"a no-op `rat run` took {seconds:.3f}s (limit {limit}s)"
