"""Ingest speed: rat's landing -> bronze against DuckDB and polars writing Parquet from the same CSV.

    .venv/bin/python bench/ingest.py                # 10M rows, 5 rounds after a warm-up
    .venv/bin/python bench/ingest.py --rows 20000000 --rounds 5

Generates one CSV (kept in bench/out/ between runs), then in each round times, in alternating order:
  - rat:    `Ingestor` ingesting the file into a fresh workspace's bronze table (hash, sniff, read,
            lineage columns, Parquet, Delta commit, ledger);
  - duckdb: COPY (FROM read_csv(file)) TO 'x.parquet';
  - polars: scan_csv(file).sink_parquet('x.parquet').
Prints each time, the median of each, output sizes, and rat's median ratio to the faster baseline.
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


def make_csv(path: Path, rows: int) -> None:
    import duckdb

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""COPY (
            SELECT i AS order_id,
                   'C' || lpad((i % 50000)::VARCHAR, 6, '0') AS customer_id,
                   DATE '2024-01-01' + (i % 700)::INT AS order_date,
                   round((hash(i) % 50000) / 100.0, 2) AS amount,
                   ['new', 'paid', 'shipped', 'cancelled'][1 + (i % 4)::INT] AS status,
                   (i % 13)::INT AS quantity,
                   'note ' || (hash(i) % 997)::VARCHAR AS note
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER)"""
    )


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def run_rat(csv: Path, work: Path) -> Path:
    from rat_tui.engine.events import EventBus
    from rat_tui.engine.ingest import Ingestor
    from rat_tui.engine.state import State, new_run_id
    from rat_tui.engine.workspace import Workspace, init_workspace

    root = work / "ws"
    shutil.rmtree(root, ignore_errors=True)
    init_workspace(root)
    (root / "landing").mkdir(exist_ok=True)
    # A hard link: the workspace's landing file is the same bytes without a copy in the timing.
    (root / "landing" / "big.csv").hardlink_to(csv)
    ws = Workspace(root)
    ws.ensure_dirs()
    state = State(ws.state_db)
    result = Ingestor(ws, state, EventBus()).run(new_run_id())
    state.close()
    assert result.ingested and not result.quarantined, result.quarantined
    return ws.lake / "bronze" / "big"


def run_duckdb(csv: Path, work: Path) -> Path:
    import duckdb

    out = work / "duckdb.parquet"
    out.unlink(missing_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY (FROM read_csv('{csv}')) TO '{out}'")
    con.close()
    return out


def run_polars(csv: Path, work: Path) -> Path:
    import polars as pl

    out = work / "polars.parquet"
    out.unlink(missing_ok=True)
    pl.scan_csv(csv).sink_parquet(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    work = HERE / "out"
    csv = work / f"orders_{args.rows}.csv"
    make_csv(csv, args.rows)
    print(f"input: {csv.name}, {args.rows:,} rows, {csv.stat().st_size / 1e6:,.0f} MB", flush=True)
    runners = {"rat": run_rat, "duckdb": run_duckdb, "polars": run_polars}
    # One untimed pass of each: the file is in the page cache and every library is imported and
    # warm before the first timed round, so no runner pays for going first.
    for runner in runners.values():
        runner(csv, work)
    times: dict[str, list[float]] = {k: [] for k in runners}
    sizes: dict[str, int] = {}
    for r in range(args.rounds):
        order = list(runners)
        order = order[r % 3 :] + order[: r % 3]  # alternate who goes first: page cache and heat even out
        for name in order:
            start = time.perf_counter()
            out = runners[name](csv, work)
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            sizes[name] = size_of(out)
            print(f"  round {r + 1} {name:7s} {elapsed:6.2f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print()
    for name in runners:
        print(f"{name:7s} median {med[name]:6.2f} s   output {sizes[name] / 1e6:7.1f} MB")
    fastest = min(("duckdb", "polars"), key=lambda k: med[k])
    print()
    print(f"rat / duckdb = {med['rat'] / med['duckdb']:.2f}x")
    print(f"rat / polars = {med['rat'] / med['polars']:.2f}x")
    print(f"rat / faster baseline ({fastest}) = {med['rat'] / med[fastest]:.2f}x  (target <= 1.00x)")


if __name__ == "__main__":
    main()
