"""`rat serve` streaming a big result: rows/s and peak memory, against `rat query` for the same.

    .venv/bin/python bench/serve.py                       # 10M rows, 3 rounds
    .venv/bin/python bench/serve.py --rows 2000000 --rounds 1   # a quicker check

A workspace holds bronze.big (`--rows` rows: an id, a double, a short text, a date), built by
`rat run` before any timing. Then, each round:

  * baseline: `rat query "select * from bronze.big" --format parquet -o FILE`, a whole process
    (DuckDB's COPY writes the file); its time and its peak RSS (the child's ru_maxrss);
  * `rat serve`: one server process for all rounds; `POST /api/query` with the same SQL in each
    format (parquet, arrow, csv, ndjson), the body read as it streams and dropped; the time from
    the request to the last byte, and the server's RSS before the rounds and its peak (VmHWM of
    /proc/<pid>/status) after them.

Flat memory means the server's peak stays near its idle size however many rows go through: the
figure to read is "peak - idle" against the rows' size. Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

RAT = str(Path(sys.executable).parent / "rat")
SQL = "select * from bronze.big"


def rss_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def make_workspace(root: Path, rows: int) -> None:
    import duckdb

    subprocess.run([RAT, "init", str(root)], check=True, capture_output=True)
    (root / "landing").mkdir(exist_ok=True)
    duckdb.sql(
        f"copy (select range as id, range * 1.5 as x, 'name-' || (range % 1000) as s, "
        f"date '2024-01-01' + (range % 365)::int as d from range({rows})) "
        f"to '{root / 'landing' / 'big.parquet'}' (format parquet)"
    )
    subprocess.run([RAT, "run", "-w", str(root)], check=True, capture_output=True)


def baseline(root: Path, out: Path) -> tuple[float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [RAT, "query", "-w", str(root), SQL, "--format", "parquet", "-o", str(out)], check=True, capture_output=True
    )
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far
    out.unlink()
    return took, max(peak, before)


def served(base: str, fmt: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    size = 0
    with httpx.stream("POST", f"{base}/api/query", json={"sql": SQL, "format": fmt}, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_raw():
            size += len(chunk)
    return time.perf_counter() - t0, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        make_workspace(root, args.rows)
        base_times, base_peak = [], 0
        for _ in range(args.rounds):
            took, peak = baseline(root, Path(tmp) / "out.parquet")
            base_times.append(took)
            base_peak = max(base_peak, peak)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([RAT, "serve", "-w", str(root), "--port", str(port)], stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            served(base, "json")  # warm: the first query opens the lake's session
            idle = rss_kb(server.pid, "VmRSS")
            results = {}
            for fmt in ("parquet", "arrow", "csv", "ndjson"):
                times, size = [], 0
                for _ in range(args.rounds):
                    took, size = served(base, fmt)
                    times.append(took)
                results[fmt] = (statistics.median(times), size)
            peak = rss_kb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows = args.rows
    b = statistics.median(base_times)
    print(f"rows: {rows:,}   rounds: {args.rounds}   load: {os.getloadavg()[0]:.2f}")
    print(
        f"baseline  rat query --format parquet -o FILE: {b:6.2f}s  {rows / b / 1e6:5.2f}M rows/s  peak RSS {base_peak / 1024:,.0f} MB"
    )
    for fmt, (took, size) in results.items():
        print(
            f"rat serve {fmt:7}: {took:6.2f}s  {rows / took / 1e6:5.2f}M rows/s  {size / 2**20:8,.0f} MB sent  "
            f"{took / b:4.2f}x the baseline's time"
        )
    print(
        f"rat serve RSS: idle {idle / 1024:,.0f} MB, peak over every round {peak / 1024:,.0f} MB (+{(peak - idle) / 1024:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
