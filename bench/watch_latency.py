"""Drop-to-gold latency of `rat watch` on the demo workspace.

    .venv/bin/python bench/watch_latency.py              # 20 drops moved in, 20 written in place
    .venv/bin/python bench/watch_latency.py --drops 40 --rows 10000

Starts the real `rat watch` on a fresh demo workspace, then drops small order files into
landing/orders/, one at a time: half written elsewhere and moved in (what the README recommends),
half written in place. For each drop it measures the time from the drop until every gold table
built on orders has a new Delta version, polling the tables' logs every 5 ms, and at the end checks
that gold holds every dropped order. Prints p50 and p95 per way of dropping.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rat_tui.engine import lake  # noqa: E402

RAT = str(Path(sys.executable).parent / "rat")
GOLD = ["gold.daily_revenue", "gold.customer_lifetime_value", "gold.product_performance"]


def versions(root: Path) -> list[int | None]:
    return [lake.latest_version(root / "lake" / g.replace(".", "/")) for g in GOLD]


def wait_for(predicate, timeout: float, step: float = 0.005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def order_file(i: int, rows: int) -> str:
    lines = ["order_id,cust_id,order_date,status,ship_country,channel,amount"]
    for j in range(rows):
        lines.append(f"BENCH-{i:03}-{j:05},C{1 + (i * 7 + j) % 800:04},{1 + j % 28:02}/06/2024,paid,DE,web,$10.00")
    return "\n".join(lines) + "\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drops", type=int, default=20, help="drops per way of dropping (default 20)")
    ap.add_argument("--rows", type=int, default=1000, help="rows per dropped file (default 1,000)")
    args = ap.parse_args()
    root = HERE / "out" / "watch-ws"
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run([RAT, "init", str(root), "--demo"], check=True, capture_output=True)
    log = open(HERE / "out" / "watch.log", "w")
    watcher = subprocess.Popen([RAT, "watch", "-w", str(root)], stderr=log, stdout=subprocess.DEVNULL)
    try:
        if not wait_for(lambda: None not in versions(root), timeout=60, step=0.05):
            raise SystemExit("the demo did not build under rat watch; see bench/out/watch.log")
        time.sleep(1.0)
        outside = HERE / "out" / "drops"
        outside.mkdir(exist_ok=True)
        results: dict[str, list[float]] = {"moved in": [], "written in place": []}
        for i in range(2 * args.drops):
            how = "moved in" if i % 2 == 0 else "written in place"
            before = versions(root)
            text = order_file(i, args.rows)
            target = root / "landing" / "orders" / f"bench-{i:03}.csv"
            if how == "moved in":
                staged = outside / target.name
                staged.write_text(text)
                start = time.perf_counter()
                os.replace(staged, target)
            else:
                start = time.perf_counter()
                target.write_text(text)
            if not wait_for(
                lambda old=before: all(a != b for a, b in zip(versions(root), old, strict=True)), timeout=30
            ):
                raise SystemExit(f"drop {i} did not reach gold within 30 s; see bench/out/watch.log")
            results[how].append(time.perf_counter() - start)
            time.sleep(0.3)
        watcher.terminate()
        watcher.wait(timeout=30)
        count = subprocess.run(
            [
                RAT,
                "query",
                "-w",
                str(root),
                "select count(*) from silver.orders where order_id like 'BENCH-%'",
                "--format",
                "csv",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[1]
        assert int(count) == 2 * args.drops * args.rows, count
        print(f"{2 * args.drops} drops of {args.rows:,} rows into the demo; every dropped order is in silver.orders")
        for how, values in results.items():
            print(
                f"{how:17s} drop -> all gold tables: p50 {statistics.median(values):.2f} s, "
                f"p95 {percentile(values, 0.95):.2f} s, max {max(values):.2f} s  (target p50 <= 1 s, p95 <= 2 s)"
            )
    finally:
        if watcher.poll() is None:
            watcher.kill()
        log.close()


if __name__ == "__main__":
    main()
