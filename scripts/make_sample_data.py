#!/usr/bin/env python3
"""Generate the demo landing data for rat (a small, dirty web shop).

Deterministic: a fixed seed and the stdlib ``random`` module, so every run
writes byte-identical CSV/NDJSON files (the Parquet file is written by polars).

    python scripts/make_sample_data.py            # (re)writes sample_data/landing/
    python scripts/make_sample_data.py --out DIR  # somewhere else

Files written (relative to landing/):

    customers.csv            -> bronze.customers
    products.csv             -> bronze.products
    orders/2024-01.csv ...   -> bronze.orders (six monthly exports)
    order_items.ndjson       -> bronze.order_items
    product_prices.parquet   -> bronze.product_prices

The data is first generated "clean" (the truth), then rendered with the dirt
real exports have.  ``build()`` returns both, so ``check_sample_data.py`` can
compare the silver models with the truth.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import io
import json
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240630
LANDING = Path(__file__).resolve().parents[1] / "sample_data" / "landing"

YEAR = 2024
MONTHS = [1, 2, 3, 4, 5, 6]
ORDERS_PER_MONTH = {1: 350, 2: 370, 3: 400, 4: 420, 5: 450, 6: 480}
N_CUSTOMERS = 800
N_PRODUCTS = 120
RENAME_FROM_MONTH = 4  # Apr-Jun exports: `cust_id` instead of `customer_id`, dd/mm/yyyy dates, new `channel` column
# One export has a few dates in the other format.  Only one: polars' read_csv(try_parse_dates=True)
# raises ComputeError on a column mixing 2024-05-15 and 15/05/2024, so an ingester must fall back
# to reading that file's dates as text.
MIXED_DATES_MONTH = 5

COUNTRIES = [
    ("DE", 30),
    ("FR", 14),
    ("NL", 10),
    ("GB", 10),
    ("US", 8),
    ("BE", 6),
    ("AT", 5),
    ("ES", 5),
    ("IT", 5),
    ("PL", 4),
    ("SE", 3),
]
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Karin",
    "Lukas",
    "Léa",
    "Marie",
    "Noah",
    "Olivia",
    "Paul",
    "Quentin",
    "Rosa",
    "Sofia",
    "Tom",
    "Ulla",
    "Victor",
    "Wim",
    "Xavier",
    "Yara",
    "Zoë",
    "Amélie",
    "Björn",
    "Chloé",
    "Daan",
    "Elif",
    "Finn",
    "Giulia",
    "Hannah",
    "Isabel",
    "José",
    "Katarzyna",
    "Liam",
    "Mateo",
    "Nora",
    "Oskar",
    "Pia",
    "Sven",
    "Lotte",
    "Marco",
    "Emily",
    "Jack",
    "Ava",
    "Leon",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Martin",
    "Bernard",
    "de Vries",
    "Jansen",
    "Smith",
    "Jones",
    "Garcia",
    "Rossi",
    "Kowalski",
    "Andersson",
    "Peeters",
    "Gruber",
    "Fischer",
    "Weber",
    "Dubois",
    "Moreau",
    "Bakker",
    "Visser",
    "Taylor",
    "Brown",
    "López",
    "Romano",
    "Nowak",
    "Johansson",
    "Maes",
    "Huber",
    "Wagner",
    "Becker",
    "Laurent",
    "Meyer",
    "Mulder",
    "Evans",
    "Fernández",
    "Ricci",
    "Wójcik",
    "Lindberg",
    "Claes",
    "Hofmann",
]
EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]

CATEGORIES = {  # category: (price range in cents, product nouns)
    "kitchen": (
        (790, 8900),
        [
            "Chef Knife",
            "Cutting Board",
            "Espresso Cups",
            "Salad Bowl",
            "Pepper Mill",
            "Cast Iron Pan",
            "Tea Kettle",
            "Storage Jars",
            "Utensil Set",
            "Oven Mitts",
        ],
    ),
    "garden": (
        (990, 24900),
        [
            "Hose Reel",
            "Planter",
            "Pruning Shears",
            "Bird Feeder",
            "Garden Bench",
            "Watering Can",
            "Seed Kit",
            "Solar Lantern",
            "Trowel Set",
            "Compost Bin",
        ],
    ),
    "bath": (
        (490, 5900),
        [
            "Bath Towel",
            "Soap Dish",
            "Shower Caddy",
            "Bath Mat",
            "Toothbrush Holder",
            "Hand Towel Set",
            "Bath Robe",
            "Laundry Basket",
        ],
    ),
    "office": (
        (290, 12900),
        [
            "Notebook",
            "Desk Lamp",
            "Pen Set",
            "Monitor Stand",
            "Desk Organizer",
            "Paper Tray",
            "Office Chair Cushion",
            "Wall Planner",
        ],
    ),
    "lighting": (
        (1490, 29900),
        ["Pendant Lamp", "Floor Lamp", "LED Strip", "Table Lamp", "Wall Sconce", "String Lights", "Reading Light"],
    ),
    "textiles": (
        (990, 14900),
        ["Throw Blanket", "Cushion Cover", "Linen Curtain", "Duvet Cover", "Table Runner", "Rug", "Bed Sheet Set"],
    ),
}
ADJECTIVES = [
    "Oak",
    "Nordic",
    "Classic",
    "Urban",
    "Linen",
    "Walnut",
    "Stone",
    "Slim",
    "Grand",
    "Mini",
    "Bamboo",
    "Copper",
    "Matte",
    "Rustic",
    "Coastal",
    "Studio",
]
BRANDS = ["Hjem", "Casa Verde", "Lumen & Co", "Brightwood", "Atelier 9", "Nook", "Fernhill", "Kettle & Co"]
CHANNELS = [("web", 60), ("app", 30), ("marketplace", 10)]


# --------------------------------------------------------------------------- truth records
@dataclass
class Customer:
    customer_id: str
    name: str
    email: str | None
    country: str
    signup_date: dt.date
    activity: float


@dataclass
class Product:
    sku: str
    name: str
    category: str
    brand: str
    is_active: bool
    popularity: float


@dataclass
class Order:
    order_id: str
    customer_id: str | None
    order_date: dt.date
    ship_country: str
    channel: str
    amount_cents: int
    paid_at: dt.date
    shipped_at: dt.date
    cancelled_at: dt.date | None
    items: list = field(default_factory=list)  # (line_no, sku, quantity, unit_price_cents)

    def status_at(self, as_of: dt.date) -> str:
        if self.cancelled_at is not None and as_of >= self.cancelled_at:
            return "cancelled"
        if self.cancelled_at is None and as_of >= self.shipped_at:
            return "shipped"
        if as_of >= self.paid_at:
            return "paid"
        return "new"


def month_end(month: int) -> dt.date:
    return dt.date(YEAR, month, calendar.monthrange(YEAR, month)[1])


def ascii_fold(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=False)
    return rng.choices(values, weights=weights, k=1)[0]


# --------------------------------------------------------------------------- dirt helpers
def dirty_code(rng: random.Random, code: str) -> str:
    """` c0012 `, `de`, `De `, ... (stray whitespace and mixed case)."""
    return rng.choice(
        [
            code.lower(),
            f" {code}",
            f"{code} ",
            f" {code.lower()} ",
            code.capitalize(),
            f"  {code}",
            f"{code.lower()} ",
        ]
    )


def dirty_word(rng: random.Random, word: str) -> str:
    """`Paid`, ` SHIPPED`, `cancelled `, ..."""
    return rng.choice(
        [
            word.capitalize(),
            word.upper(),
            f" {word.upper()}",
            f"{word} ",
            f" {word.capitalize()}",
            f"{word.capitalize()} ",
        ]
    )


def fmt_amount(rng: random.Random, cents: int) -> str:
    """`$1,234.50`, `€12.00`, `12.5`, `1234.50`, ` 99.90 `."""
    v = cents / 100
    r = rng.random()
    if r < 0.30:
        return f"${v:,.2f}"
    if r < 0.55:
        return f"€{v:,.2f}"
    if r < 0.80:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    if r < 0.95:
        return f"{v:.2f}"
    return f" {v:.2f} "


def fmt_date(d: dt.date, iso: bool) -> str:
    return d.isoformat() if iso else d.strftime("%d/%m/%Y")


def nice_price(rng: random.Random, cents: int) -> int:
    """Round to a shop price: x.99, x.49 or x.00."""
    units = max(cents // 100, 1)
    return max(units * 100 + rng.choice([-1, -1, -51, 0]), 99)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def sprinkle_duplicates(rng: random.Random, rows: list, k: int) -> tuple[list, int]:
    """Insert k exact copies of random rows (right after the original or further down)."""
    rows = list(rows)
    for _ in range(k):
        i = rng.randrange(len(rows))
        j = i + 1 if rng.random() < 0.5 else rng.randrange(i + 1, len(rows) + 1)
        rows.insert(j, list(rows[i]) if isinstance(rows[i], list) else rows[i])
    return rows, k


# --------------------------------------------------------------------------- generation
def build(seed: int = SEED) -> dict:
    """Generate truth + rendered files.  Returns {"files": {relpath: str|dict}, "truth": ..., "dirt": ...}."""
    rng = random.Random(seed)
    dirt: dict[str, int] = {}

    def bump(key: str, n: int = 1) -> None:
        dirt[key] = dirt.get(key, 0) + n

    # ---- customers (truth)
    customers: list[Customer] = []
    for n in range(1, N_CUSTOMERS + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = weighted(rng, COUNTRIES)
        if rng.random() < 0.7:
            signup = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(0, 1095))
        else:
            signup = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 170))
        email = None
        if rng.random() > 0.06:  # ~6% of customers have no email on file
            local = ascii_fold(f"{first}.{last}").lower().replace(" ", "")
            email = f"{local}{rng.randrange(1, 99) if rng.random() < 0.5 else ''}@{rng.choice(EMAIL_DOMAINS)}"
        customers.append(
            Customer(f"C{n:04d}", f"{first} {last}", email, country, signup, min(rng.paretovariate(1.3), 12.0))
        )

    # ---- products (truth)
    products: list[Product] = []
    used_names: set[str] = set()
    cats = list(CATEGORIES)
    for n in range(N_PRODUCTS):
        cat = cats[n % len(cats)] if n < len(cats) * 2 else rng.choice(cats)
        while True:
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(CATEGORIES[cat][1])}"
            if name not in used_names:
                used_names.add(name)
                break
        products.append(
            Product(f"SKU-{1001 + n}", name, cat, rng.choice(BRANDS), rng.random() > 0.1, rng.paretovariate(1.6))
        )

    # ---- price list (truth): 1-3 prices per product, changes during H1 2024
    prices: dict[str, list[tuple[dt.date, int]]] = {}
    for p in products:
        lo, hi = CATEGORIES[p.category][0]
        price = nice_price(rng, int(lo + (hi - lo) * rng.random() ** 2))
        rows = [(dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(0, 300)), price)]
        if rng.random() < 0.8:
            d = dt.date(2024, 1, 10) + dt.timedelta(days=rng.randrange(0, 120))
            price = nice_price(rng, int(price * rng.uniform(0.85, 1.15)))
            rows.append((d, price))
            if rng.random() < 0.4:
                d = d + dt.timedelta(days=rng.randrange(14, 40))
                price = nice_price(rng, int(price * rng.uniform(0.85, 1.15)))
                rows.append((d, price))
        prices[p.sku] = rows

    def price_on(sku: str, d: dt.date) -> int:
        return [c for (vf, c) in prices[sku] if vf <= d][-1]

    # ---- orders (truth)
    orders: list[Order] = []
    seq = 0
    sku_list = [p.sku for p in products]
    sku_weights = [p.popularity for p in products]
    country_of = {c.customer_id: c.country for c in customers}
    for m in MONTHS:
        days = calendar.monthrange(YEAR, m)[1]
        day_weights = [1.3 if dt.date(YEAR, m, d).weekday() >= 5 else 1.0 for d in range(1, days + 1)]
        dates = sorted(
            dt.date(YEAR, m, d) for d in rng.choices(range(1, days + 1), weights=day_weights, k=ORDERS_PER_MONTH[m])
        )
        for d in dates:
            seq += 1
            eligible = [c for c in customers if c.signup_date <= d]
            cust = rng.choices(eligible, weights=[c.activity for c in eligible], k=1)[0].customer_id
            if rng.random() < 0.005:  # guest checkout exported without a customer
                cust = None
            ship = country_of[cust] if cust and rng.random() < 0.92 else weighted(rng, COUNTRIES)
            n_lines = rng.choices([1, 2, 3, 4, 5], weights=[18, 27, 25, 18, 12], k=1)[0]
            skus: list[str] = []
            while len(skus) < n_lines:
                s = rng.choices(sku_list, weights=sku_weights, k=1)[0]
                if s not in skus:
                    skus.append(s)
            items = [
                (i + 1, s, rng.choices([1, 2, 3, 4], weights=[60, 25, 10, 5], k=1)[0], price_on(s, d))
                for i, s in enumerate(skus)
            ]
            paid = d + dt.timedelta(days=0 if rng.random() < 0.7 else 1)
            shipped = paid + dt.timedelta(days=rng.randint(1, 3))
            cancelled = d + dt.timedelta(days=rng.randint(0, 2)) if rng.random() < 0.06 else None
            orders.append(
                Order(
                    f"SO-24{seq:05d}",
                    cust,
                    d,
                    ship,
                    weighted(rng, CHANNELS),
                    sum(q * c for (_, _, q, c) in items),
                    paid,
                    shipped,
                    cancelled,
                    items,
                )
            )

    # ---- render customers.csv
    cust_rows = []
    for c in customers:
        cid = c.customer_id
        if rng.random() < 0.03:
            cid = dirty_code(rng, cid)
            bump("customers: dirty customer_id")
        name = c.name
        if rng.random() < 0.03:
            name = rng.choice([f" {name}", f"{name} ", name.replace(" ", "  ")])
            bump("customers: stray whitespace in name")
        email = c.email or ""
        if c.email is None:
            if rng.random() < 0.15:
                email = rng.choice(["n/a", "N/A", "-"])
                bump("customers: placeholder email (n/a, -)")
            else:
                bump("customers: empty email")
        elif rng.random() < 0.08:
            email = rng.choice([email.upper(), f" {email}", email.capitalize() + " "])
            bump("customers: email case/whitespace")
        country = c.country
        if rng.random() < 0.10:
            country = dirty_code(rng, country)
            bump("customers: dirty country code")
        cust_rows.append([cid, name, email, country, c.signup_date.isoformat()])
    # near duplicates: the same customer exported twice, id/email differ only by case/whitespace
    base_rows = list(cust_rows)
    for c in rng.sample(customers, 5):
        row = list(base_rows[int(c.customer_id[1:]) - 1])
        row[0] = dirty_code(rng, c.customer_id)
        if row[2] and "@" in row[2]:
            row[2] = row[2].strip().upper()
        cust_rows.insert(rng.randrange(len(cust_rows) + 1), row)
        bump("customers: near-duplicate rows (same id after trim/upper)")
    cust_rows, k = sprinkle_duplicates(rng, cust_rows, 15)
    bump("customers: exact duplicate rows", k)

    # ---- render products.csv
    prod_rows = []
    for p in products:
        sku = p.sku
        if rng.random() < 0.05:
            sku = dirty_code(rng, sku)
            bump("products: dirty sku")
        cat = p.category
        if rng.random() < 0.15:
            cat = rng.choice([cat.capitalize(), cat.upper(), f" {cat}", f"{cat.capitalize()} "])
            bump("products: dirty category")
        name = p.name if rng.random() > 0.04 else p.name.replace(" ", "  ") + " "
        if name != p.name:
            bump("products: stray whitespace in name")
        active = rng.choice(["yes", "Y", "true", "1", "Yes"] if p.is_active else ["no", "N", "false", "0"])
        prod_rows.append([sku, name, cat, p.brand, active])
    prod_rows, k = sprinkle_duplicates(rng, prod_rows, 3)
    bump("products: exact duplicate rows", k)

    # ---- render product_prices.parquet (as columns)
    price_rows = []
    for p in products:
        for vf, c in prices[p.sku]:
            sku = p.sku
            if rng.random() < 0.04:
                sku = dirty_code(rng, sku)
                bump("product_prices: dirty sku")
            price_rows.append((sku, c / 100, vf))
    price_rows, k = sprinkle_duplicates(rng, price_rows, 5)
    bump("product_prices: exact duplicate rows", k)

    # ---- render the monthly order exports
    def render_order(o: Order, month: int) -> list[str]:
        renamed = month >= RENAME_FROM_MONTH
        cust = o.customer_id or ""
        if cust and rng.random() < 0.05:
            cust = dirty_code(rng, cust)
            bump("orders: dirty customer id")
        if not cust:
            bump("orders: null customer")
        iso = not renamed
        if month == MIXED_DATES_MONTH and rng.random() < 0.04:
            iso = renamed
            bump(f"orders: date in the other format (only in {YEAR}-{month:02d}.csv)")
        status = o.status_at(month_end(month))
        if status == "cancelled" and rng.random() < 0.3:
            status = rng.choice(["canceled", "Canceled"])
            bump("orders: US spelling 'canceled'")
        elif rng.random() < 0.2:
            status = dirty_word(rng, status)
            bump("orders: dirty status")
        ship = o.ship_country
        if rng.random() < 0.10:
            ship = dirty_code(rng, ship)
            bump("orders: dirty ship_country")
        row = [o.order_id, cust, fmt_date(o.order_date, iso), status, ship]
        if renamed:
            ch = o.channel if rng.random() > 0.1 else dirty_word(rng, o.channel)
            row.append(ch)
        row.append(fmt_amount(rng, o.amount_cents))
        return row

    by_month: dict[int, list[Order]] = {m: [o for o in orders if o.order_date.month == m] for m in MONTHS}
    rendered: dict[tuple[str, int], list[str]] = {}
    files: dict[str, object] = {}
    last_month: dict[str, int] = {}  # order_id -> month of the last file it appears in
    for m in MONTHS:
        rows: list[list[str]] = []
        if m > 1:  # overlap with the previous export: orders whose status changed since, last-day
            # orders, and a few orders the export tool picked up again for no reason
            again = {o.order_id for o in rng.sample(by_month[m - 1], 8)}
            for o in by_month[m - 1]:
                changed = o.status_at(month_end(m)) != o.status_at(month_end(m - 1))
                if changed or o.order_date == month_end(m - 1) or o.order_id in again:
                    same_layout = (m >= RENAME_FROM_MONTH) == (m - 1 >= RENAME_FROM_MONTH)
                    if not changed and same_layout:
                        rows.append(list(rendered[(o.order_id, m - 1)]))
                        bump("orders: exact duplicate across monthly files")
                    else:
                        rows.append(render_order(o, m))
                        bump("orders: re-exported in next month (status update or new layout)")
                    last_month[o.order_id] = m
        for o in by_month[m]:
            row = render_order(o, m)
            rendered[(o.order_id, m)] = row
            rows.append(row)
            last_month[o.order_id] = m
        rows, k = sprinkle_duplicates(rng, rows, max(3, len(rows) // 100))
        bump("orders: exact duplicate rows in the same file", k)
        if m >= RENAME_FROM_MONTH:
            header = ["order_id", "cust_id", "order_date", "status", "ship_country", "channel", "amount"]
        else:
            header = ["order_id", "customer_id", "order_date", "status", "ship_country", "amount"]
        files[f"orders/{YEAR}-{m:02d}.csv"] = csv_text(header, rows)

    # ---- render order_items.ndjson
    item_lines: list[str] = []
    n = 0
    for o in orders:
        for line_no, sku, qty, cents in o.items:
            n += 1
            obj: dict[str, object] = {"order_id": o.order_id, "line_no": line_no}
            s = sku
            if rng.random() < 0.04:
                s = dirty_code(rng, sku)
                bump("order_items: dirty sku")
            obj["sku"] = s
            q: object = qty
            if rng.random() < 0.02 or n == 4:  # an early one, so any type inference sees strings
                q = str(qty)
                bump("order_items: quantity as a JSON string")
            obj["quantity"] = q
            up: object = cents / 100
            if rng.random() < 0.02 or n == 7:
                up = f"{cents / 100:.2f}"
                bump("order_items: unit_price as a JSON string")
            obj["unit_price"] = up
            if rng.random() < 0.05:  # exporters do not keep key order
                keys = list(obj)
                rng.shuffle(keys)
                obj = {k2: obj[k2] for k2 in keys}
            item_lines.append(json.dumps(obj, ensure_ascii=False))
    item_lines, k = sprinkle_duplicates(rng, item_lines, 40)
    bump("order_items: exact duplicate lines", k)

    files["customers.csv"] = csv_text(["customer_id", "name", "email", "country", "signup_date"], cust_rows)
    files["products.csv"] = csv_text(["sku", "name", "category", "brand", "active"], prod_rows)
    files["order_items.ndjson"] = "\n".join(item_lines) + "\n"
    files["product_prices.parquet"] = {
        "sku": [r[0] for r in price_rows],
        "price": [r[1] for r in price_rows],
        "valid_from": [r[2] for r in price_rows],
    }

    # ---- truth, as the silver models should see it
    snapshot = month_end(MONTHS[-1])
    truth = {
        "customers": {c.customer_id: (c.name, c.email, c.country, c.signup_date) for c in customers},
        "products": {p.sku: (p.name, p.category, p.brand, p.is_active) for p in products},
        "product_prices": {(s, vf): c for s, rows in prices.items() for (vf, c) in rows},
        "orders": {
            o.order_id: (
                o.customer_id,
                o.order_date,
                o.status_at(month_end(last_month[o.order_id])),
                o.ship_country,
                o.channel if last_month[o.order_id] >= RENAME_FROM_MONTH else "unknown",
                o.amount_cents,
            )
            for o in orders
        },
        "order_items": {(o.order_id, ln): (s, q, c) for o in orders for (ln, s, q, c) in o.items},
        "snapshot": snapshot,
    }
    return {"files": files, "truth": truth, "dirt": dict(sorted(dirt.items()))}


# --------------------------------------------------------------------------- writing
def generated_paths(out: Path) -> list[Path]:
    return [
        out / "customers.csv",
        out / "products.csv",
        out / "order_items.ndjson",
        out / "product_prices.parquet",
        *sorted((out / "orders").glob("*.csv")),
    ]


def write(result: dict, out: Path) -> list[Path]:
    import polars as pl

    for p in generated_paths(out):  # only remove what this script owns
        if p.exists():
            p.unlink()
    written = []
    for rel, content in sorted(result["files"].items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".parquet"):
            df = pl.DataFrame(content, schema={"sku": pl.String, "price": pl.Float64, "valid_from": pl.Date})
            df.write_parquet(path, compression="zstd", statistics=False)
        else:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(content)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=LANDING, help=f"landing folder (default: {LANDING})")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    result = build(args.seed)
    paths = write(result, args.out)
    total = 0
    for p in paths:
        size = p.stat().st_size
        total += size
        if p.suffix == ".parquet":
            rows = len(result["files"]["product_prices.parquet"]["sku"])
        else:
            rows = p.read_text(encoding="utf-8").count("\n") - (1 if p.suffix == ".csv" else 0)
        print(f"{p.relative_to(args.out)!s:28} {rows:6d} rows {size / 1024:8.1f} KiB")
    print(f"{'total':28} {'':11} {total / 1024:8.1f} KiB")
    print("\ninjected dirt:")
    for k, v in result["dirt"].items():
        print(f"  {v:5d}  {k}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
