"""Concurrent readers: queries from another process see whole committed versions only, while a writer
process rebuilds the models again and again.

A writer process (rat's own `Engine`, as `rat run` drives it) makes 20 generations: each drops a
landing file whose rows all carry the generation's number (and whose row count is the generation's
own), so `bronze.gens` grows by one file per generation, `silver.snap` is rebuilt to hold exactly
the newest generation's rows (every fifth build a full refresh) and `gold.summary` one row about it.
Meanwhile a reader process runs at least 400 queries through `Engine.query_session()`: a fresh
engine and session per query (what `rat query` does) or one long-lived session whose views are
the queried table's view refreshed before each query (what the workbench does), and the test itself runs a few real
`rat query` calls. Every answer must equal the content of exactly one committed Delta version of its
table, read afterwards with `deltalake` at each version of the log: none may fail, none may see a
table half-written or two versions mixed.

RAT_SOAK=1 makes it 300 generations and 6,000 queries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from conftest import RAT, write
from deltalake import DeltaTable

from rat_tui.engine import Engine
from rat_tui.engine.workspace import init_workspace

SOAK = os.environ.get("RAT_SOAK", "") not in ("", "0")
REBUILDS = 300 if SOAK else 20
QUERIES = 6000 if SOAK else 400
CLI_QUERIES = 6

TABLES = {"bronze.gens": "i", "silver.snap": "i", "gold.summary": "n"}  # table -> the column summed


BASE_ROWS, STEP_ROWS = 50, 3


def rows_of(gen: int) -> int:
    """Each generation has its own row count, so a count alone tells the generations apart."""
    return BASE_ROWS + STEP_ROWS * gen


def signature_sql(table: str) -> str:
    """One answer that pins down the table's content: rows, the generations they carry, a sum."""
    return (
        f"select count(*) as rows, coalesce(list(distinct gen order by gen), []) as gens, "
        f"coalesce(sum({TABLES[table]}), 0)::bigint as total from {table}"
    )


def landing_file(root: Path, gen: int) -> None:
    lines = [f"{gen},{i}" for i in range(rows_of(gen))]
    write(root / "landing" / "gens" / f"gen-{gen:05}.csv", "gen,i\n" + "\n".join(lines) + "\n")


WRITER = r"""
import json, sys, time
from pathlib import Path
from rat_tui.engine import Engine

root, first, last, base, step = Path(sys.argv[1]), *map(int, sys.argv[2:6])
ready, done = root / "reader.ready", root / "writer.done"
deadline = time.monotonic() + 60
while not ready.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
engine = Engine.open(root)
out = []
try:
    for gen in range(first, last + 1):
        lines = [f"{gen},{i}" for i in range(base + step * gen)]
        target = root / "landing" / "gens" / f"gen-{gen:05}.csv"
        tmp = target.with_name(target.name + ".part")
        tmp.write_text("gen,i\n" + "\n".join(lines) + "\n")
        tmp.rename(target)
        report = engine.run(full_refresh=gen % 5 == 0)
        out.append({"gen": gen, "status": report.status, "built": report.built, "failed": report.failed})
finally:
    engine.close()
    done.write_text("done")
print(json.dumps(out))
"""

READER = r"""
import json, sys, time
from pathlib import Path
from rat_tui.engine import Engine

root, minimum, limit = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
tables = json.loads(sys.argv[4])
done = root / "writer.done"
deadline = time.monotonic() + limit
answers, n = [], 0
long_engine = Engine.open(root)
long_session = long_engine.query_session()
(root / "reader.ready").write_text("ready")
while time.monotonic() < deadline and (n < minimum or not done.exists()):
    table, sql = tables[n % len(tables)]
    fresh = n % 10 == 0
    try:
        if fresh:  # what `rat query` does: a new engine and session
            engine = Engine.open(root)
            try:
                session = engine.query_session()
                try:
                    row = session.sql(sql).fetchall()[0]
                finally:
                    session.close()
            finally:
                engine.close()
        else:  # what the workbench does: one session, its views moved to the newest versions
            long_session.refresh(table)
            row = long_session.sql(sql).fetchall()[0]
        answers.append({"table": table, "fresh": fresh, "answer": [row[0], list(row[1]), int(row[2])]})
    except Exception as exc:
        answers.append({"table": table, "fresh": fresh, "error": f"{type(exc).__name__}: {exc}"})
    n += 1
long_session.close()
long_engine.close()
print(json.dumps(answers))
"""


def version_signatures(table_path: Path, column: str) -> dict[tuple, int]:
    """Every committed version's content, as the signature the queries compute -> that version."""
    latest = DeltaTable(str(table_path)).version()
    out: dict[tuple, int] = {}
    for version in range(latest + 1):
        data = DeltaTable(str(table_path), version=version).to_pyarrow_table()
        gens = sorted(set(data.column("gen").to_pylist()))
        total = sum(data.column(column).to_pylist())
        sig = (data.num_rows, tuple(gens), total)
        assert sig not in out, f"{table_path.name}: versions {out[sig]} and {version} have the same content"
        out[sig] = version
    return out


def test_readers_see_whole_versions_while_a_writer_rebuilds(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "ws")
    write(
        root / "models" / "silver" / "snap.sql",
        "select gen, i from bronze.gens where gen = (select max(gen) from bronze.gens)\n",
    )
    write(root / "models" / "gold" / "summary.sql", "select max(gen) as gen, count(*) as n from silver.snap\n")
    landing_file(root, 1)
    engine = Engine.open(root)
    try:
        first = engine.run()
    finally:
        engine.close()
    assert first.built == ["silver.snap", "gold.summary"], first.failed

    started = time.perf_counter()
    tables = [[t, signature_sql(t)] for t in TABLES]
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(root), str(QUERIES), "600", json.dumps(tables)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), "2", str(REBUILDS + 1), str(BASE_ROWS), str(STEP_ROWS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Real `rat query` calls while the writer writes (each starts a whole process, so only a few).
    cli: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    while writer.poll() is None and len(cli) < CLI_QUERIES:
        table = list(TABLES)[len(cli) % len(TABLES)]
        cli.append(
            (
                table,
                subprocess.run(
                    [RAT, "query", "-w", str(root), signature_sql(table), "--format", "json"],
                    capture_output=True,
                    text=True,
                    timeout=120,
                ),
            )
        )
    w_out, w_err = writer.communicate(timeout=600)
    r_out, r_err = reader.communicate(timeout=600)
    seconds = time.perf_counter() - started
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_err
    assert "Traceback" not in w_err + r_err

    builds = json.loads(w_out)
    assert len(builds) == REBUILDS
    assert all(b["status"] == "ok" and b["built"] == ["silver.snap", "gold.summary"] for b in builds), [
        b for b in builds if b["status"] != "ok"
    ][:3]

    signatures = {t: version_signatures(root / "lake" / t.replace(".", "/"), col) for t, col in TABLES.items()}
    # Each generation is one commit of each table, and the last version holds the last generation.
    assert {t: max(s.values()) for t, s in signatures.items()} == dict.fromkeys(TABLES, REBUILDS)

    answers = json.loads(r_out)
    failures = [a for a in answers if "error" in a]
    partial = [a for a in answers if "answer" in a and tuple(map(_tup, a["answer"])) not in signatures[a["table"]]]
    for table, proc in cli:
        if proc.returncode != 0 or "Traceback" in proc.stderr:
            failures.append({"table": table, "error": proc.stderr.strip()})
            continue
        (row,) = json.loads(proc.stdout)
        if (row["rows"], tuple(row["gens"]), row["total"]) not in signatures[table]:
            partial.append({"table": table, "answer": row})
    seen = {
        t: {signatures[t][tuple(map(_tup, a["answer"]))] for a in answers if a["table"] == t and "answer" in a}
        for t in TABLES
    }
    modes = Counter("fresh" if a["fresh"] else "refreshed" for a in answers)
    print(
        f"\n{REBUILDS} rebuilds, {len(answers)} queries ({dict(modes)}) + {len(cli)} `rat query` in {seconds:.1f}s; "
        f"versions seen per table: { {t: len(v) for t, v in seen.items()} }; failures {len(failures)}, partial {len(partial)}"
    )
    assert len(answers) >= QUERIES
    assert failures == [], failures[:5]
    assert partial == [], partial[:5]
    # The reader really overlapped the writer: it saw the tables at many different versions.
    assert all(len(v) >= 5 for v in seen.values()), {t: sorted(v) for t, v in seen.items()}


def _tup(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value
