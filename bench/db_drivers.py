"""Which driver the database sources (issue 15) read with: measured, not assumed.

    .venv/bin/pip install -e '.[databases]'                 # the drivers measured here
    .venv/bin/python bench/db_drivers.py                      # 2M rows from each server, 3 rounds
    .venv/bin/python bench/db_drivers.py --rows 200000 --rounds 1

It makes `rat_bench_t` (an id, a timestamp, a text, a numeric(12,2), a boolean) in Postgres
(127.0.0.1:5432, database test) and in MariaDB/MySQL (127.0.0.1:3306, database test), then
reads it whole as Arrow record batches with each driver, each read in a process of its own (rows/s
and the child's peak RSS; rounds alternate the drivers), and drops every batch as it comes, as a
stream into Delta would. Then it reads a table of awkward types with each driver and reports
what each one changed (a fidelity check, not a timing): unconstrained numerics with more than 10
decimals, high-scale decimals, UUIDs, JSON, arrays, enums, bytes, unsigned 64-bit integers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from decimal import Decimal

PG = "postgresql://postgres@127.0.0.1:5432/test"
MY = "mysql://root@127.0.0.1:3306/test"

READ = r"""
import json, resource, sys, time
driver, url, sql = sys.argv[1:4]
started = time.perf_counter()
rows = 0
if driver == "adbc":
    import adbc_driver_postgresql.dbapi as pg
    con = pg.connect(url)
    cur = con.cursor()
    cur.execute(sql)
    for batch in cur.fetch_record_batch():
        rows += batch.num_rows
elif driver == "connectorx":
    import connectorx as cx
    for batch in cx.read_sql(url, sql, return_type="arrow_stream", batch_size=65536):
        rows += batch.num_rows
elif driver in ("psycopg", "pymysql"):
    import pyarrow as pa
    if driver == "psycopg":
        import psycopg
        con = psycopg.connect(url)
        cur = con.cursor(name="bench")  # a server-side cursor: streamed
    else:
        import pymysql, pymysql.cursors
        con = pymysql.connect(host="127.0.0.1", user="root", database="test", cursorclass=pymysql.cursors.SSCursor)
        cur = con.cursor()
    cur.execute(sql)
    names = None
    while chunk := cur.fetchmany(65536):
        names = names or [d[0] for d in cur.description]
        batch = pa.record_batch([pa.array(c) for c in zip(*chunk)], names=names)
        rows += batch.num_rows
took = time.perf_counter() - started
print(json.dumps({"rows": rows, "seconds": took, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FIDELITY = r"""
import json, sys
driver, url, sql = sys.argv[1:4]
if driver == "adbc":
    import adbc_driver_postgresql.dbapi as pg
    cur = pg.connect(url).cursor()
    cur.execute(sql)
    table = cur.fetch_arrow_table()
else:
    import connectorx as cx
    table = cx.read_sql(url, sql, return_type="arrow")
row = table.to_pylist()[0]
print(json.dumps({f.name: [str(f.type), str(row[f.name])] for f in table.schema}))
"""

PG_TYPES = """
drop table if exists rat_bench_types; drop type if exists rat_bench_mood;
create type rat_bench_mood as enum ('sad', 'happy');
create table rat_bench_types (n12_2 numeric(12,2), n_free numeric, u uuid, jb jsonb, a int[], e rat_bench_mood,
  b bytea, tz timestamptz);
insert into rat_bench_types values (1234567890.12, 3.141592653589793238, 'a0f499a5-4573-45b5-bda0-97bfcb785acb',
  '{"k": [1, 2]}', '{1,2}', 'happy', '\\xdeadbeef', '2024-01-01 10:00+02');
"""
PG_EXPECTED = {"n12_2": "1234567890.12", "n_free": "3.141592653589793238", "tz": "2024-01-01 08:00:00+00:00"}
MY_TYPES = [
    "drop table if exists rat_bench_types",
    "create table rat_bench_types (d30_20 decimal(30,20), ub bigint unsigned, j json, b blob, dt datetime(6))",
    "insert into rat_bench_types values (1234567890.12345678901234567890, 18446744073709551615, '{\"k\": 1}',"
    " x'deadbeef', '2024-01-01 10:00:00.123456')",
]
MY_EXPECTED = {"d30_20": "1234567890.12345678901234567890", "ub": "18446744073709551615"}


def make_tables(rows: int) -> None:
    import psycopg
    import pymysql

    with psycopg.connect(PG, autocommit=True) as con:
        con.execute("drop table if exists rat_bench_t")
        con.execute(
            "create table rat_bench_t as select g as id, timestamp '2024-01-01' + g * interval '1 second' as at,"
            " md5(g::text) as name, (g % 100000)::numeric(12,2) / 100 as amount, g % 7 = 0 as flag"
            f" from generate_series(1, {rows}) g"
        )
        con.execute(PG_TYPES)
    con = pymysql.connect(host="127.0.0.1", user="root", database="test", autocommit=True)
    with con.cursor() as cur:
        cur.execute("drop table if exists rat_bench_t")
        cur.execute(
            "create table rat_bench_t (id bigint primary key, at datetime(6), name varchar(32), amount decimal(12,2),"
            " flag bool)"
        )
        step = 500_000
        for start in range(1, rows + 1, step):  # seq_1_to_N is MariaDB's sequence engine
            end = min(rows, start + step - 1)
            cur.execute(
                f"insert into rat_bench_t select seq, timestamp '2024-01-01 00:00:00' + interval seq second, md5(seq),"
                f" (seq % 100000) / 100, seq % 7 = 0 from seq_{start}_to_{end}"
            )
        for statement in MY_TYPES:
            cur.execute(statement)
    con.close()


def run(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    make_tables(args.rows)
    sql = "select * from rat_bench_t"
    cases = [("postgres", d, PG) for d in ("adbc", "connectorx", "psycopg")]
    cases += [("mysql", d, MY) for d in ("connectorx", "pymysql")]
    results: dict[tuple[str, str], list[dict[str, object]]] = {(s, d): [] for s, d, _ in cases}
    for _ in range(args.rounds):
        for server, driver, url in cases:
            results[server, driver].append(run(READ, driver, url, sql))
    print(f"{args.rows:,} rows, {args.rounds} rounds, medians:")
    print(f"{'server':9} {'driver':11} {'rows/s':>12} {'seconds':>8} {'peak MB':>8}")
    for (server, driver), runs in results.items():
        good = [r for r in runs if "error" not in r]
        if not good:
            print(f"{server:9} {driver:11} failed: {runs[0]['error']}")
            continue
        seconds = statistics.median(float(r["seconds"]) for r in good)  # type: ignore[arg-type]
        peak = statistics.median(float(r["peak_mb"]) for r in good)  # type: ignore[arg-type]
        print(f"{server:9} {driver:11} {args.rows / seconds:12,.0f} {seconds:8.2f} {peak:8.0f}")
    print("\nfidelity (what each driver gives for the awkward types):")
    for server, driver, url, expected in (
        ("postgres", "adbc", PG, PG_EXPECTED),
        ("postgres", "connectorx", PG, PG_EXPECTED),
        ("mysql", "connectorx", MY, MY_EXPECTED),
    ):
        got = run(FIDELITY, driver, url, "select * from rat_bench_types")
        if "error" in got:
            print(f"  {server} {driver}: failed: {got['error']}")
            continue
        for column, (arrow_type, value) in got.items():  # type: ignore[misc]
            want = expected.get(column)
            if want is None:
                same = True
            elif _number(value) and _number(want):
                same = Decimal(value) == Decimal(want)
            else:
                same = value == want
            mark = "" if same else f"   CHANGED (the source holds {want})"
            print(f"  {server:8} {driver:10} {column:7} {arrow_type:28} {value}{mark}")


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


if __name__ == "__main__":
    main()
