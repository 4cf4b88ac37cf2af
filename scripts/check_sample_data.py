#!/usr/bin/env python3
"""Verify the rat demo data set with plain DuckDB (no rat engine involved).

For each way bronze may be typed, this script
  1. simulates bronze from sample_data/landing/ (union of columns per table,
     lineage columns _source_file / _ingested_at / _batch_id),
  2. runs every model in sample_data/models/ in dependency order as
     CREATE TABLE <layer>.<name> AS <model sql>,
  3. evaluates the checks declared in each model's /* rat ... */ header,
  4. compares the silver tables with the clean truth the generator started from,
  5. checks that the gold figures add up and that the injected dirt is gone,
and finally that every bronze variant yields identical silver and gold tables.

Bronze variants:
  varchar       DuckDB, every column read as text (read_csv all_varchar=true, ...)
  duckdb_typed  DuckDB auto-detected types (read_csv union_by_name, read_json, read_parquet)
  polars        like rat_tui/engine/ingest.py: one polars read per file (CSV infer_schema_length=10000,
                try_parse_dates=False; NDJSON infer_schema_length=None), a column whose type differs
                between files becomes text; files are ingested newest first, so dedupe must not
                depend on ingest order
  polars_dates  as polars but CSV with try_parse_dates=True (dates typed in bronze); a file where
                polars then raises ComputeError (mixed date formats) is re-read without it
  polars_twice  as polars, but every file is ingested twice (a re-dropped landing folder)

    .venv/bin/python scripts/check_sample_data.py            # all variants
    .venv/bin/python scripts/check_sample_data.py -v polars  # one variant, verbose
Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tomllib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
LANDING = SAMPLE / "landing"
MODELS = SAMPLE / "models"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_sample_data  # noqa: E402

VARIANTS = ["varchar", "duckdb_typed", "polars", "polars_dates", "polars_twice"]
POLARS_DATE_FALLBACK: list[str] = []  # files polars could not read with try_parse_dates=True
LAYERS = ["silver", "gold"]
HEADER_RE = re.compile(r"^\s*/\*\s*rat\b(.*?)\*/", re.S)
REF_RE = re.compile(r"\b(bronze|silver|gold)\.([A-Za-z_][A-Za-z0-9_]*)\b")


# --------------------------------------------------------------------------- small helpers
class Report:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.failures: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            if self.verbose:
                print(f"    ok    {what}")
        else:
            self.failures.append(f"{what} {detail}".strip())
            print(f"    FAIL  {what} {detail}")
        return ok


def q(con: duckdb.DuckDBPyConnection, sql: str, *params):
    return con.execute(sql, list(params)).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()[0]


def cents(x) -> int | None:
    return None if x is None else int((Decimal(str(x)) * 100).to_integral_value())


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# --------------------------------------------------------------------------- landing discovery
def landing_tables(landing: Path) -> dict[str, list[Path]]:
    """landing/<table>/* -> bronze.<table>; landing/<stem>.<ext> -> bronze.<stem>."""
    tables: dict[str, list[Path]] = {}
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
            if files:
                tables[entry.name] = files
        else:
            tables.setdefault(entry.stem, []).append(entry)
    return tables


def rel(p: Path) -> str:
    return p.relative_to(LANDING).as_posix()


# --------------------------------------------------------------------------- bronze variants
def bronze_duckdb(con, tables: dict[str, list[Path]], all_varchar: bool) -> None:
    for table, files in tables.items():
        paths = "[" + ", ".join(sql_str(str(p)) for p in files) + "]"
        ext = files[0].suffix.lower()
        if ext == ".csv":
            src = f"read_csv({paths}, union_by_name=true, filename=true{', all_varchar=true' if all_varchar else ''})"
        elif ext in (".ndjson", ".jsonl", ".json"):
            if all_varchar:
                keys = [
                    r[0] for r in q(con, f"SELECT DISTINCT unnest(json_keys(json)) FROM read_ndjson_objects({paths})")
                ]
                cols = "{" + ", ".join(f"{sql_str(k)}: 'VARCHAR'" for k in sorted(keys)) + "}"
                src = f"read_json({paths}, format='newline_delimited', columns={cols}, filename=true)"
            else:
                src = f"read_json({paths}, format='newline_delimited', union_by_name=true, filename=true)"
        elif ext == ".parquet":
            src = f"read_parquet({paths}, union_by_name=true, filename=true)"
        else:
            raise SystemExit(f"unexpected landing file type: {files[0]}")
        prefix = str(LANDING) + "/"
        body = "COLUMNS(* EXCLUDE (filename))"
        if all_varchar:
            body = "CAST(COLUMNS(* EXCLUDE (filename)) AS VARCHAR)"
        con.execute(f"""
            CREATE TABLE bronze.{table} AS
            SELECT {body},
                   replace(filename, {sql_str(prefix)}, '') AS _source_file,
                   now() AS _ingested_at,
                   'b1' AS _batch_id
            FROM {src}
        """)


def bronze_polars(con, tables: dict[str, list[Path]], times: int, parse_dates: bool) -> None:
    import polars as pl

    base = dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.UTC)
    for table, files in tables.items():
        frames = []
        # newest file first, and (for times=2) the whole folder once more in a later batch
        order = [(b, f) for b in range(times) for f in reversed(files)]
        for n, (batch, f) in enumerate(order):
            ext = f.suffix.lower()
            if ext == ".csv":
                try:
                    df = pl.read_csv(f, infer_schema_length=10_000, try_parse_dates=parse_dates)
                except pl.exceptions.ComputeError:
                    # polars infers Date for a column mixing 2024-05-15 and 15/05/2024, then fails to
                    # parse it: read that file's dates as text (the silver models cope with either)
                    if batch == 0:
                        POLARS_DATE_FALLBACK.append(rel(f))
                    df = pl.read_csv(f, infer_schema_length=10_000, try_parse_dates=False)
            elif ext in (".ndjson", ".jsonl", ".json"):
                df = pl.read_ndjson(f, infer_schema_length=None)
            else:
                df = pl.read_parquet(f)
            df = df.with_columns(
                pl.lit(rel(f)).alias("_source_file"),
                pl.lit(base + dt.timedelta(minutes=n)).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
                pl.lit(f"b{batch + 1}").alias("_batch_id"),
            )
            frames.append(df)
        # a column whose type differs between files becomes text
        types: dict[str, set] = {}
        for df in frames:
            for name, dtype in df.schema.items():
                if dtype != pl.Null:
                    types.setdefault(name, set()).add(dtype)
        to_text = {c for c, ts in types.items() if len(ts) > 1}
        frames = [df.with_columns([pl.col(c).cast(pl.String) for c in to_text if c in df.columns]) for df in frames]
        bronze = pl.concat(frames, how="diagonal")
        con.register("_bronze_frame", bronze)
        con.execute(f"CREATE TABLE bronze.{table} AS SELECT * FROM _bronze_frame")
        con.unregister("_bronze_frame")


# --------------------------------------------------------------------------- models
def load_models() -> dict[str, dict]:
    models = {}
    for layer in LAYERS:
        for path in sorted((MODELS / layer).glob("*.sql")):
            sql = path.read_text(encoding="utf-8")
            m = HEADER_RE.match(sql)
            header = tomllib.loads(m.group(1)) if m else {}
            body = sql[m.end() :] if m else sql
            code = re.sub(r"--[^\n]*", "", body)
            refs = {f"{a}.{b}" for a, b in REF_RE.findall(code)}
            models[f"{layer}.{path.stem}"] = {"path": path, "sql": sql, "header": header, "refs": refs, "layer": layer}
    return models


def dependency_order(models: dict[str, dict]) -> list[str]:
    done: list[str] = []

    def visit(name: str, stack: tuple = ()) -> None:
        if name in done:
            return
        if name in stack:
            raise SystemExit(f"dependency cycle: {' -> '.join((*stack, name))}")
        for dep in sorted(models[name]["refs"]):
            if dep in models:
                visit(dep, (*stack, name))
        done.append(name)

    for name in sorted(models, key=lambda n: (LAYERS.index(models[n]["layer"]), n)):
        visit(name)
    return done


def run_header_checks(con, name: str, header: dict, rep: Report) -> None:
    checks = header.get("checks", {})
    for col in checks.get("not_null", []):
        n = scalar(con, f'SELECT count(*) FROM {name} WHERE "{col}" IS NULL')
        rep.check(n == 0, f"{name}: not_null {col}", f"({n} NULL rows)")
    for col in checks.get("unique", []):
        n = scalar(con, f'SELECT count(*) - count(DISTINCT "{col}") FROM {name}')
        rep.check(n == 0, f"{name}: unique {col}", f"({n} duplicate values)")
    for col, allowed in checks.get("accepted_values", {}).items():
        bad = q(
            con,
            f'SELECT DISTINCT "{col}" FROM {name} WHERE "{col}" IS NOT NULL AND "{col}" NOT IN (SELECT unnest(?))',
            allowed,
        )
        rep.check(not bad, f"{name}: accepted_values {col}", f"(unexpected: {[b[0] for b in bad]})")


# --------------------------------------------------------------------------- truth comparisons
def compare(rep: Report, what: str, got: dict, want: dict) -> None:
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [k for k in want if k in got and got[k] != want[k]]
    rep.check(
        not missing and not extra and not wrong,
        f"{what} equals the generator's truth",
        f"(missing {len(missing)} {missing[:3]}, extra {len(extra)} {extra[:3]}, "
        f"wrong {len(wrong)} {[(k, got[k], want[k]) for k in wrong[:3]]})",
    )


def check_truth(con, truth: dict, rep: Report) -> None:
    got = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in q(con, "SELECT customer_id, name, email, country, signup_date FROM silver.customers")
    }
    compare(rep, "silver.customers", got, truth["customers"])
    got = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in q(con, "SELECT sku, product_name, category, brand, is_active FROM silver.products")
    }
    compare(rep, "silver.products", got, truth["products"])
    got = {(r[0], r[1]): cents(r[2]) for r in q(con, "SELECT sku, valid_from, price FROM silver.product_prices")}
    compare(rep, "silver.product_prices", got, truth["product_prices"])
    got = {
        r[0]: (r[1], r[2], r[3], r[4], r[5], cents(r[6]))
        for r in q(
            con,
            """
        SELECT order_id, customer_id, order_date, status, ship_country, channel, amount FROM silver.orders""",
        )
    }
    compare(rep, "silver.orders", got, truth["orders"])
    got = {
        (r[0], r[1]): (r[2], r[3], cents(r[4]))
        for r in q(con, "SELECT order_id, line_no, sku, quantity, unit_price FROM silver.order_items")
    }
    compare(rep, "silver.order_items", got, truth["order_items"])


# --------------------------------------------------------------------------- plausibility
def check_plausible(con, truth: dict, rep: Report) -> None:
    live = {k: v for k, v in truth["orders"].items() if v[2] != "cancelled"}
    total_cents = sum(v[5] for v in live.values())
    start, end = min(v[1] for v in truth["orders"].values()), max(v[1] for v in truth["orders"].values())

    # silver relationships and arithmetic
    n = scalar(con, "SELECT count(*) FROM silver.orders WHERE amount < 0")
    rep.check(n == 0, "silver.orders: no negative amounts", f"({n})")
    n = scalar(con, "SELECT count(*) FROM silver.order_items WHERE quantity <= 0 OR unit_price <= 0")
    rep.check(n == 0, "silver.order_items: quantity and unit_price > 0", f"({n})")
    n = scalar(
        con,
        """SELECT count(*) FROM silver.orders o
                       LEFT JOIN (SELECT order_id, sum(line_amount) s FROM silver.order_items GROUP BY 1) i USING (order_id)
                       WHERE i.s IS NULL OR i.s <> o.amount""",
    )
    rep.check(n == 0, "silver.orders.amount = sum of its silver.order_items lines", f"({n} orders differ)")
    n = scalar(
        con, "SELECT count(*) FROM silver.order_items WHERE order_id NOT IN (SELECT order_id FROM silver.orders)"
    )
    rep.check(n == 0, "every order item belongs to an order", f"({n} orphans)")
    n = scalar(con, "SELECT count(*) FROM silver.order_items WHERE sku NOT IN (SELECT sku FROM silver.products)")
    rep.check(n == 0, "every order item sku is a product", f"({n})")
    n = scalar(
        con,
        """SELECT count(*) FROM silver.orders WHERE customer_id IS NOT NULL
                       AND customer_id NOT IN (SELECT customer_id FROM silver.customers)""",
    )
    rep.check(n == 0, "every order customer is a customer", f"({n})")
    n = scalar(
        con,
        """SELECT count(*) FROM silver.order_items i JOIN silver.orders o USING (order_id)
                       LEFT JOIN silver.product_prices p ON p.sku = i.sku AND o.order_date >= p.valid_from
                            AND (p.valid_to IS NULL OR o.order_date < p.valid_to)
                       WHERE p.price IS NULL OR p.price <> i.unit_price""",
    )
    rep.check(n == 0, "unit_price = the price list price valid on the order date", f"({n} lines differ)")
    n = scalar(
        con,
        "SELECT count(*) FROM (SELECT sku FROM silver.product_prices GROUP BY sku HAVING count(*) FILTER (WHERE is_current) <> 1)",
    )
    rep.check(n == 0, "exactly one current price per sku", f"({n})")
    n = scalar(
        con,
        """SELECT count(*) FROM silver.orders o JOIN silver.customers c USING (customer_id)
                       WHERE o.order_date < c.signup_date""",
    )
    rep.check(n == 0, "no order before its customer's signup date", f"({n})")

    # gold.daily_revenue
    days = (end - start).days + 1
    rows, nulls, neg, rev, orders, last_cum, lo, hi = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE revenue IS NULL), count(*) FILTER (WHERE revenue < 0),
               sum(revenue), sum(orders), arg_max(cumulative_revenue, order_date), min(order_date), max(order_date)
        FROM gold.daily_revenue""").fetchone()
    rep.check(
        rows == days and lo == start and hi == end,
        "gold.daily_revenue: one row per day",
        f"({rows} rows {lo}..{hi}, want {days} {start}..{end})",
    )
    rep.check(
        nulls == 0 and neg == 0,
        "gold.daily_revenue: no NULL or negative revenue day",
        f"({nulls} NULL, {neg} negative)",
    )
    rep.check(
        cents(rev) == total_cents and cents(last_cum) == total_cents,
        "gold.daily_revenue: revenue total = truth (cancelled excluded)",
        f"({rev} / {last_cum} vs {total_cents / 100})",
    )
    rep.check(
        orders == len(live), "gold.daily_revenue: orders total = non-cancelled orders", f"({orders} vs {len(live)})"
    )
    cancelled = sum(1 for v in truth["orders"].values() if v[2] == "cancelled")
    n = scalar(con, "SELECT sum(cancelled_orders) FROM gold.daily_revenue")
    rep.check(n == cancelled, "gold.daily_revenue: cancelled_orders total", f"({n} vs {cancelled})")

    # gold.customer_lifetime_value
    guest_cents = sum(v[5] for v in live.values() if v[0] is None)
    rows, rev, bad_first, neg_days = con.execute("""
        SELECT count(*), sum(revenue), count(*) FILTER (WHERE first_order_date < signup_date),
               count(*) FILTER (WHERE days_since_last_order < 0)
        FROM gold.customer_lifetime_value""").fetchone()
    n_cust = scalar(con, "SELECT count(*) FROM silver.customers")
    rep.check(rows == n_cust, "gold.customer_lifetime_value: one row per customer", f"({rows} vs {n_cust})")
    rep.check(
        cents(rev) + guest_cents == total_cents,
        "gold.customer_lifetime_value: revenue + guest revenue = total",
        f"({rev} + {guest_cents / 100} vs {total_cents / 100})",
    )
    rep.check(
        bad_first == 0 and neg_days == 0,
        "gold.customer_lifetime_value: first order after signup, days >= 0",
        f"({bad_first}, {neg_days})",
    )
    per_cust = Counter(v[0] for v in live.values() if v[0])
    got = dict(q(con, "SELECT customer_id, orders FROM gold.customer_lifetime_value WHERE orders > 0"))
    rep.check(got == dict(per_cust), "gold.customer_lifetime_value: orders per customer = truth")

    # gold.product_performance
    rows, rev, units = con.execute("SELECT count(*), sum(revenue), sum(units) FROM gold.product_performance").fetchone()
    d_units = scalar(con, "SELECT sum(units) FROM gold.daily_revenue")
    rep.check(rows == len(truth["products"]), "gold.product_performance: one row per product", f"({rows})")
    rep.check(
        cents(rev) == total_cents,
        "gold.product_performance: revenue total = daily_revenue total",
        f"({rev} vs {total_cents / 100})",
    )
    rep.check(
        units == d_units, "gold.product_performance: units total = daily_revenue units", f"({units} vs {d_units})"
    )
    n = scalar(
        con,
        "SELECT count(*) FROM (SELECT category, sum(category_revenue_share) s FROM gold.product_performance "
        "GROUP BY 1 HAVING abs(s - 1) > 0.01)",
    )
    rep.check(n == 0, "gold.product_performance: category shares add up to 1", f"({n} categories off)")


# --------------------------------------------------------------------------- dirt
def count_dirt(con) -> list[tuple[str, int, int]]:
    """(dirt, rows in bronze, rows left in silver) - silver must be 0 everywhere."""

    def biz(table: str) -> str:
        cols = [
            r[0]
            for r in q(
                con,
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'bronze' AND table_name = ? ORDER BY ordinal_position",
                table,
            )
        ]
        return ", ".join(f'"{c}"' for c in cols if not c.startswith("_"))

    def dup_rows(table: str) -> int:
        return scalar(
            con,
            f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT {biz(table)} FROM bronze.{table})) "
            f"FROM bronze.{table}",
        )

    def v(col: str) -> str:
        return f"CAST({col} AS VARCHAR)"

    rows = []

    def add(label: str, bronze_sql: str, silver_sql: str) -> None:
        rows.append((label, scalar(con, bronze_sql), scalar(con, silver_sql)))

    # duplicates: bronze rows that are not the one kept per business key
    add(
        "orders: duplicate rows (same file and across monthly files)",
        "SELECT count(*) - count(DISTINCT upper(trim(CAST(order_id AS VARCHAR)))) FROM bronze.orders",
        "SELECT count(*) - count(DISTINCT order_id) FROM silver.orders",
    )
    add(
        "orders: exact duplicate rows (all business columns equal)",
        f"SELECT {dup_rows('orders')}",
        "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM silver.orders)) FROM silver.orders",
    )
    add(
        "customers: exact + near duplicate rows",
        "SELECT count(*) - count(DISTINCT upper(trim(CAST(customer_id AS VARCHAR)))) FROM bronze.customers",
        "SELECT count(*) - count(DISTINCT customer_id) FROM silver.customers",
    )
    add(
        "products: duplicate rows",
        "SELECT count(*) - count(DISTINCT upper(trim(CAST(sku AS VARCHAR)))) FROM bronze.products",
        "SELECT count(*) - count(DISTINCT sku) FROM silver.products",
    )
    add(
        "order_items: exact duplicate lines",
        f"SELECT {dup_rows('order_items')}",
        "SELECT count(*) - count(DISTINCT order_item_id) FROM silver.order_items",
    )
    add(
        "product_prices: exact duplicate rows",
        f"SELECT {dup_rows('product_prices')}",
        "SELECT count(*) - count(DISTINCT price_id) FROM silver.product_prices",
    )
    # renamed column
    add(
        "orders: customer in cust_id (renamed column), customer_id NULL",
        f"SELECT count(*) FROM bronze.orders WHERE customer_id IS NULL AND nullif(trim({v('cust_id')}), '') IS NOT NULL",
        "SELECT count(*) FROM silver.orders o WHERE customer_id IS NULL AND order_id IN ("
        f"SELECT upper(trim({v('order_id')})) FROM bronze.orders WHERE nullif(trim({v('cust_id')}), '') IS NOT NULL)",
    )
    # nulls
    add(
        "orders: no customer (guest, kept as NULL)",
        f"SELECT count(*) FROM bronze.orders WHERE nullif(trim(coalesce({v('customer_id')}, {v('cust_id')})), '') IS NULL",
        "SELECT 0",
    )
    add(
        "customers: missing or placeholder email (-> NULL)",
        f"SELECT count(*) FROM bronze.customers WHERE coalesce({v('email')}, '') NOT LIKE '%@%'",
        "SELECT count(*) FROM silver.customers WHERE email IS NOT NULL AND email NOT LIKE '%_@_%._%'",
    )
    # dates: bronze may hold them as text or (typed reads) DATE, count the text ones
    add(
        "orders: dd/mm/yyyy order dates",
        f"SELECT count(*) FROM bronze.orders WHERE regexp_matches(trim({v('order_date')}), '^\\d{{2}}/\\d{{2}}/\\d{{4}}$')",
        "SELECT count(*) FROM silver.orders WHERE order_date IS NULL",
    )
    add(
        "orders: yyyy-mm-dd dates inside a dd/mm/yyyy export (mixed file)",
        f"SELECT count(*) FROM bronze.orders WHERE _source_file >= 'orders/2024-04' "
        f"AND regexp_matches(trim({v('order_date')}), '^\\d{{4}}-\\d{{2}}-\\d{{2}}$')",
        "SELECT count(*) FROM silver.orders WHERE order_date IS NULL",
    )
    # codes
    add(
        "customer ids with whitespace / lower case",
        f"SELECT (SELECT count(*) FROM bronze.customers WHERE {v('customer_id')} <> upper(trim({v('customer_id')}))) + "
        f"(SELECT count(*) FROM bronze.orders WHERE coalesce({v('customer_id')}, {v('cust_id')}) <> "
        f"upper(trim(coalesce({v('customer_id')}, {v('cust_id')}))))",
        "SELECT (SELECT count(*) FROM silver.customers WHERE customer_id <> upper(trim(customer_id))) + "
        "(SELECT count(*) FROM silver.orders WHERE customer_id <> upper(trim(customer_id)))",
    )
    add(
        "country codes with whitespace / lower case",
        f"SELECT (SELECT count(*) FROM bronze.customers WHERE {v('country')} <> upper(trim({v('country')}))) + "
        f"(SELECT count(*) FROM bronze.orders WHERE {v('ship_country')} <> upper(trim({v('ship_country')})))",
        "SELECT (SELECT count(*) FROM silver.customers WHERE country <> upper(trim(country))) + "
        "(SELECT count(*) FROM silver.orders WHERE ship_country <> upper(trim(ship_country)))",
    )
    add(
        "skus with whitespace / lower case (products, items, prices)",
        f"SELECT (SELECT count(*) FROM bronze.products WHERE {v('sku')} <> upper(trim({v('sku')}))) + "
        f"(SELECT count(*) FROM bronze.order_items WHERE replace({v('sku')}, '\"', '') <> upper(trim(replace({v('sku')}, '\"', '')))) + "
        f"(SELECT count(*) FROM bronze.product_prices WHERE {v('sku')} <> upper(trim({v('sku')})))",
        "SELECT (SELECT count(*) FROM silver.products WHERE sku <> upper(trim(sku))) + "
        "(SELECT count(*) FROM silver.order_items WHERE sku <> upper(trim(sku))) + "
        "(SELECT count(*) FROM silver.product_prices WHERE sku <> upper(trim(sku)))",
    )
    add(
        "statuses not in new/paid/shipped/cancelled (case, blanks, 'canceled')",
        f"SELECT count(*) FROM bronze.orders WHERE {v('status')} NOT IN ('new', 'paid', 'shipped', 'cancelled')",
        "SELECT count(*) FROM silver.orders WHERE status NOT IN ('new', 'paid', 'shipped', 'cancelled')",
    )
    add(
        "product categories with whitespace / upper case",
        f"SELECT count(*) FROM bronze.products WHERE {v('category')} <> lower(trim({v('category')}))",
        "SELECT count(*) FROM silver.products WHERE category <> lower(trim(category))",
    )
    # amounts
    add(
        "order amounts as text with $ / € / thousands separator / blanks",
        f"SELECT count(*) FROM bronze.orders WHERE regexp_matches({v('amount')}, '[^0-9.]')",
        "SELECT count(*) FROM silver.orders WHERE amount IS NULL",
    )
    items = sql_str(str(LANDING / "order_items.ndjson"))
    add(
        "order item quantity / unit_price given as JSON strings (counted in the raw file)",
        f"SELECT count(*) FILTER (WHERE json_type(json, '$.quantity') = 'VARCHAR') "
        f"+ count(*) FILTER (WHERE json_type(json, '$.unit_price') = 'VARCHAR') FROM read_ndjson_objects({items})",
        "SELECT count(*) FROM silver.order_items WHERE quantity IS NULL OR unit_price IS NULL",
    )
    return rows


# --------------------------------------------------------------------------- one variant
def run_variant(variant: str, models: dict, order: list[str], truth: dict, rep: Report) -> dict:
    con = duckdb.connect()
    for schema in ("bronze", "silver", "gold"):
        con.execute(f"CREATE SCHEMA {schema}")
    tables = landing_tables(LANDING)
    if variant in ("varchar", "duckdb_typed"):
        bronze_duckdb(con, tables, all_varchar=(variant == "varchar"))
    else:
        bronze_polars(con, tables, times=2 if variant == "polars_twice" else 1, parse_dates=variant == "polars_dates")

    print(f"\n== bronze variant: {variant}")
    for table in tables:
        cols = q(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'bronze' AND table_name = ? ORDER BY ordinal_position",
            table,
        )
        if rep.verbose:
            print(f"  bronze.{table}: " + ", ".join(f"{c} {t}" for c, t in cols))
    counts: dict[str, int] = {}
    for name in order:
        model = models[name]
        try:
            con.execute(f"CREATE TABLE {name} AS {model['sql']}")
        except duckdb.Error as e:
            rep.check(False, f"{name}: builds", f"({e})")
            return {"con": con, "counts": counts, "fingerprints": {}}
        counts[name] = scalar(con, f"SELECT count(*) FROM {name}")
        run_header_checks(con, name, model["header"], rep)
    check_truth(con, truth, rep)
    check_plausible(con, truth, rep)
    dirt = count_dirt(con)
    for label, _in_bronze, in_silver in dirt:
        rep.check(in_silver == 0, f"dirt gone: {label}", f"({in_silver} left in silver)")
    fingerprints = {}
    for name in order:
        types = q(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            *name.split("."),
        )
        digest = scalar(
            con, f"SELECT md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) FROM {name} t"
        )
        fingerprints[name] = (tuple(types), digest)
    bronze_counts = {
        table: q(con, f"SELECT _source_file, count(*) FROM bronze.{table} GROUP BY 1 ORDER BY 1") for table in tables
    }
    return {"con": con, "counts": counts, "fingerprints": fingerprints, "dirt": dirt, "bronze": bronze_counts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "-v", "--variant", choices=VARIANTS, action="append", help="bronze variant(s) to test (default: all)"
    )
    ap.add_argument("--verbose", action="store_true", help="print every passing check and bronze schemas")
    args = ap.parse_args(argv)
    variants = args.variant or VARIANTS
    rep = Report(args.verbose)

    result = make_sample_data.build()
    truth = result["truth"]
    # the landing files must be what the generator writes today
    for relpath, content in result["files"].items():
        path = LANDING / relpath
        if isinstance(content, str):
            same = path.exists() and path.read_text(encoding="utf-8") == content
        else:
            import polars as pl

            same = path.exists() and pl.read_parquet(path).to_dict(as_series=False) == content
        rep.check(same, f"landing/{relpath} is up to date", "(rerun scripts/make_sample_data.py)")
    size = sum(p.stat().st_size for p in LANDING.rglob("*") if p.is_file())
    rep.check(size < 2 * 1024 * 1024, "landing/ is under 2 MB", f"({size} bytes)")

    models = load_models()
    order = dependency_order(models)
    print("models in dependency order: " + ", ".join(order))
    for name, m in models.items():
        layer_refs = {r.split(".")[0] for r in m["refs"]}
        want = {"bronze"} if m["layer"] == "silver" else {"silver"}
        rep.check(layer_refs == want, f"{name} reads only {want.pop()} tables", f"(reads {sorted(m['refs'])})")
        rep.check(m["header"].get("materialized") in ("table", "view"), f"{name}: header has materialized")
        rep.check(not m["sql"].rstrip().endswith(";"), f"{name}: no trailing semicolon")
    gold_silver_deps = {n: m["refs"] for n, m in models.items() if m["layer"] == "gold"}
    rep.check(any(len(refs) > 1 for refs in gold_silver_deps.values()), "a gold model joins several silver models")

    runs = {}
    for variant in variants:
        runs[variant] = run_variant(variant, models, order, truth, rep)

    first = runs[variants[0]]
    raw = runs.get("varchar", first)  # all-text bronze shows the dirt as it is in the files
    if "varchar" in runs:
        injected = result["dirt"]
        found = {label: n for label, n, _ in raw["dirt"]}
        for label, want in [
            (
                "orders: duplicate rows (same file and across monthly files)",
                injected["orders: exact duplicate rows in the same file"]
                + injected["orders: exact duplicate across monthly files"]
                + injected["orders: re-exported in next month (status update or new layout)"],
            ),
            (
                "orders: exact duplicate rows (all business columns equal)",
                injected["orders: exact duplicate rows in the same file"]
                + injected["orders: exact duplicate across monthly files"],
            ),
            (
                "customers: exact + near duplicate rows",
                injected["customers: exact duplicate rows"]
                + injected["customers: near-duplicate rows (same id after trim/upper)"],
            ),
            ("products: duplicate rows", injected["products: exact duplicate rows"]),
            ("order_items: exact duplicate lines", injected["order_items: exact duplicate lines"]),
            ("product_prices: exact duplicate rows", injected["product_prices: exact duplicate rows"]),
        ]:
            rep.check(
                found.get(label) == want,
                f"bronze has exactly the injected '{label}'",
                f"({found.get(label)} vs {want})",
            )
    for variant in variants[1:]:
        for name in order:
            a = first["fingerprints"].get(name)
            b = runs[variant]["fingerprints"].get(name)
            rep.check(
                a == b,
                f"{name}: identical with bronze '{variants[0]}' and '{variant}'",
                f"({a and a[1]} vs {b and b[1]})",
            )

    print("\nlanding files (rows as ingested into bronze):")
    for table, rows in first["bronze"].items():
        for source, n in rows:
            print(f"  {source:28} {n:6d}   -> bronze.{table}")
    print(f"\ninjected dirt (rows in bronze '{'varchar' if 'varchar' in runs else variants[0]}') -> left after silver:")
    for label, in_bronze, in_silver in raw["dirt"]:
        print(f"  {in_bronze:6d} -> {in_silver:<3d} {label}")
    print("\nmodel row counts:")
    for name in order:
        print(f"  {name:36} {first['counts'].get(name, 'n/a'):>6}")
    print("\ngold columns:")
    for name in order:
        if name.startswith("gold."):
            print(f"  {name}: " + ", ".join(c for c, _ in first["fingerprints"][name][0]))
    con = first["con"]
    print("\nheadline figures:")
    for label, sql in [
        ("revenue (non-cancelled orders)", "SELECT sum(revenue) FROM gold.daily_revenue"),
        ("orders / cancelled", "SELECT sum(orders) || ' / ' || sum(cancelled_orders) FROM gold.daily_revenue"),
        ("best day", "SELECT order_date || ': ' || revenue FROM gold.daily_revenue ORDER BY revenue DESC LIMIT 1"),
        ("quietest day", "SELECT order_date || ': ' || revenue FROM gold.daily_revenue ORDER BY revenue LIMIT 1"),
        (
            "top customer",
            "SELECT customer_id || ' ' || name || ': ' || revenue || ' in ' || orders || ' orders' "
            "FROM gold.customer_lifetime_value ORDER BY revenue DESC LIMIT 1",
        ),
        (
            "segments",
            "SELECT string_agg(segment || '=' || n, ', ' ORDER BY segment) FROM "
            "(SELECT segment, count(*) n FROM gold.customer_lifetime_value GROUP BY 1)",
        ),
        (
            "top product",
            "SELECT sku || ' ' || product_name || ': ' || revenue || ' (' || units || ' units)' "
            "FROM gold.product_performance ORDER BY revenue DESC LIMIT 1",
        ),
        ("products never sold", "SELECT count(*) FROM gold.product_performance WHERE units = 0"),
    ]:
        print(f"  {label:32} {scalar(con, sql)}")

    if POLARS_DATE_FALLBACK:
        print(
            "\nNOTE polars read_csv(try_parse_dates=True) raised ComputeError (mixed date formats) for: "
            + ", ".join(sorted(set(POLARS_DATE_FALLBACK)))
            + "; re-read with try_parse_dates=False"
        )
    print(f"\n{rep.passed} checks passed, {len(rep.failures)} failed")
    for f in rep.failures:
        print(f"  FAIL {f}")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
