"""Build costs on a generated table: incremental after a 1% append vs a full rebuild, and auditing.

    .venv/bin/python bench/build.py                  # 10M rows, 3 rounds
    .venv/bin/python bench/build.py --rows 2000000   # quicker

One workspace in bench/out/build-ws: bronze.events (N rows) and models over it:
  silver.events_append  incremental append  (row-wise cleaning)
  silver.events_merge   incremental merge   (latest row per id)
  gold.daily            incremental partition by day (daily totals of the latest row per id)
  gold.daily_all        incremental partition by day (daily totals of every row: no keys to move)
  silver.audited / silver.unaudited: the same full-table model, with and without checks
  (not_null, unique, accepted_values, expression).
It times the incremental build of each after dropping 1% new rows against a --full-refresh of the
same model on the same data, and the audited build against the unaudited one, alternating, and
prints the medians and ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rat_tui.engine import Engine  # noqa: E402
from rat_tui.engine.events import ModelFinished  # noqa: E402
from rat_tui.engine.workspace import init_workspace  # noqa: E402

CLEAN = (
    "select id, upper(trim(status)) as status, round(amount * 1.1, 2) as amount_eur, day, "
    "customer, _batch_id from bronze.events"
)
LATEST = "select * from bronze.events qualify row_number() over (partition by id order by _batch_id desc) = 1"
MODELS = {
    "silver/events_append.sql": f'/* rat\nmaterialized = "incremental"\nstrategy = "append"\n*/\n{CLEAN}\n',
    "silver/events_merge.sql": '/* rat\nmaterialized = "incremental"\nstrategy = "merge"\nunique_key = "id"\n*/\n'
    + CLEAN.replace("from bronze.events", f"from ({LATEST})")
    + "\n",
    "gold/daily.sql": '/* rat\nmaterialized = "incremental"\nstrategy = "partition"\npartition_by = "day"\n'
    'unique_key = "id"\n*/\n'
    f"select day, count(*) as events, sum(amount) as amount from ({LATEST}) group by day\n",
    "gold/daily_all.sql": '/* rat\nmaterialized = "incremental"\nstrategy = "partition"\npartition_by = "day"\n*/\n'
    "select day, count(*) as events, sum(amount) as amount from bronze.events group by day\n",
    "silver/audited.sql": '/* rat\n[checks]\nnot_null = ["id", "status", "day"]\nunique = ["id"]\n'
    'accepted_values = { status = ["NEW", "PAID", "SHIPPED", "CANCELLED"] }\nexpression = "amount_eur >= 0"\n*/\n'
    + CLEAN.replace("from bronze.events", f"from ({LATEST})")
    + "\n",
    "silver/unaudited.sql": CLEAN.replace("from bronze.events", f"from ({LATEST})") + "\n",
}
INCREMENTAL = ["silver.events_append", "silver.events_merge", "gold.daily", "gold.daily_all"]


def write_events(path: Path, start: int, rows: int, seed: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""COPY (
            SELECT i AS id,
                   ['new', 'paid', 'shipped', 'cancelled'][1 + ((i + {seed}) % 4)::INT] AS status,
                   ((hash(i + {seed}) % 100000) / 100.0)::DOUBLE AS amount,
                   (DATE '2024-01-01' + ((i // 20000) % 700)::INT)::VARCHAR AS day,
                   'C' || (i % 50000)::VARCHAR AS customer
            FROM range({start}, {start + rows}) t(i)
        ) TO '{path}' (FORMAT parquet)"""
    )


def build_seconds(root: Path, selector: str, full: bool) -> tuple[float, str]:
    """Seconds the model's build took (from its own event), and how it was built."""
    engine = Engine.open(root)
    seen: list[ModelFinished] = []
    engine.events.subscribe(lambda e: seen.append(e) if isinstance(e, ModelFinished) and e.model == selector else None)
    try:
        report = engine.run([selector], full_refresh=full)
    finally:
        engine.close()
    assert not report.failed, report.failed
    event = next(e for e in seen if e.status == "ok")
    return event.seconds, event.mode or "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = HERE / "out" / "build-ws"
    shutil.rmtree(root, ignore_errors=True)
    init_workspace(root)
    for rel, text in MODELS.items():
        (root / "models" / rel).write_text(text)
    (root / "landing" / "events").mkdir(parents=True)
    write_events(root / "landing" / "events" / "base.parquet", 0, args.rows, 0)
    t0 = time.perf_counter()
    engine = Engine.open(root)
    report = engine.run()
    engine.close()
    assert not report.failed, report.failed
    print(f"setup: {args.rows:,} rows ingested and every model built in {time.perf_counter() - t0:.1f} s", flush=True)

    step = max(1, args.rows // 100)
    incr: dict[str, list[float]] = {m: [] for m in INCREMENTAL}
    full: dict[str, list[float]] = {m: [] for m in INCREMENTAL}
    for r in range(args.rounds):
        # 1% new rows: half of them updates of the newest existing ids (with another status and
        # amount, and for some another day), half new ids.
        path = root / "landing" / "events" / f"drop-{r}.parquet"
        write_events(path, args.rows + r * (step // 2) - step // 2, step, seed=r + 1)
        for model in INCREMENTAL:
            seconds, mode = build_seconds(root, model, full=False)
            assert mode == "incremental", (model, mode)
            incr[model].append(seconds)
        for model in INCREMENTAL:
            seconds, _ = build_seconds(root, model, full=True)
            full[model].append(seconds)
        print(
            f"  round {r + 1}: " + ", ".join(f"{m} {incr[m][-1]:.2f}s vs {full[m][-1]:.2f}s" for m in INCREMENTAL),
            flush=True,
        )
    print("\nincremental build after a 1% append vs a full rebuild (median seconds):")
    for m in INCREMENTAL:
        i, f = statistics.median(incr[m]), statistics.median(full[m])
        print(f"  {m:22s} incremental {i:6.2f} s   full {f:6.2f} s   ratio {i / f:.2f}x")

    audited: list[float] = []
    plain: list[float] = []
    for _ in range(args.rounds):
        plain.append(build_seconds(root, "silver.unaudited", full=True)[0])
        audited.append(build_seconds(root, "silver.audited", full=True)[0])
    a, p = statistics.median(audited), statistics.median(plain)
    print(
        f"\nauditing: audited {a:.2f} s vs unaudited {p:.2f} s (median): overhead {100 * (a / p - 1):+.0f}% (target <= +20%)"
    )


if __name__ == "__main__":
    main()
