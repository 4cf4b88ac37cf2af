"""Failing checks over random inputs: data that fails an error-severity check is never published.

Hypothesis drops a few batches of rows into `landing/items/` (Parquet, so the types are fixed), each
batch clean or carrying random violations: a NULL id, an id twice in the batch, an id of an earlier
batch, an unknown status, a negative amount, too many rows, and a NULL note (a warn-severity check
only). Three models read them:

- `silver.latest` (a table of the newest batch) with not_null, unique, accepted_values, expression
  and row_count checks as errors, and an expression check as a warning;
- `gold.summary`, downstream of it;
- `silver.all` (incremental, append: every batch so far) with a unique check on the id.

After each run (through the engine, the last one of each example through `rat run`) the test's own
model of the checks says what must be published: a table stays at the last version that passed
(its Delta version and its rows), the models downstream of a failure are skipped, a warning
publishes and is reported, and no staged Parquet file outlives the run.

RAT_SOAK=1 runs 60 examples instead of 6.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import run_rat, write
from deltalake import DeltaTable
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rat_tui.engine import Engine
from rat_tui.engine.workspace import init_workspace

SOAK = os.environ.get("RAT_SOAK", "") not in ("", "0")
STATUSES = ["new", "paid", "shipped"]
MAX_ROWS = 8
LATEST = f"""/* rat
[checks]
not_null = ["id"]
unique = ["id"]
accepted_values = {{ status = {STATUSES!r} }}
row_count = {{ max = {MAX_ROWS} }}
expression = ["amount >= 0", {{ sql = "note is not null", severity = "warn" }}]
*/
select id, status, amount, note, drop_no from bronze.items
where drop_no = (select max(drop_no) from bronze.items)
""".replace("'", '"')
SUMMARY = "select count(*) as n, sum(amount) as total, max(drop_no) as drop_no from silver.latest\n"
ALL = """/* rat
materialized = "incremental"
strategy = "append"
[checks]
unique = ["id"]
*/
select id, status, amount, note, drop_no from bronze.items
"""
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("status", pa.string()),
        ("amount", pa.int64()),
        ("note", pa.string()),
        ("drop_no", pa.int64()),
    ]
)
TABLES = ("silver.latest", "gold.summary", "silver.all")
VIOLATIONS = ("null_id", "dup_id", "earlier_id", "bad_status", "negative", "too_many", "null_note")
_counter = itertools.count()

Row = tuple[Any, ...]  # (id, status, amount, note, drop_no)


@st.composite
def batch(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, int]]]:
    """Which violations a batch carries (often none), and where: (row index, a free choice)."""
    kinds = draw(st.one_of(st.just([]), st.lists(st.sampled_from(VIOLATIONS), max_size=3, unique=True)))
    spots = [(draw(st.integers(0, 50)), draw(st.integers(0, 1000))) for _ in kinds]
    return kinds, spots


def make_rows(drop_no: int, size: int, kinds: list[str], spots: list[tuple[int, int]], earlier: list[Row]) -> list[Row]:
    rows = [
        [drop_no * 100 + k, STATUSES[(drop_no + k) % 3], (drop_no * 7 + k * 3) % 40, f"n{k}", drop_no]
        for k in range(size)
    ]
    for kind, (at, pick) in zip(kinds, spots, strict=True):
        row = rows[at % len(rows)]
        if kind == "null_id":
            row[0] = None
        elif kind == "dup_id":
            rows.append([rows[pick % len(rows)][0], "new", 1, "dup", drop_no])
        elif kind == "earlier_id" and earlier:
            row[0] = earlier[pick % len(earlier)][0]
        elif kind == "bad_status":
            row[1] = ["lost", "NEW", " paid", "returned"][pick % 4]
        elif kind == "negative":
            row[2] = -(1 + pick % 50)
        elif kind == "too_many":
            rows.extend([drop_no * 100 + 50 + k, "paid", 5, "more", drop_no] for k in range(MAX_ROWS + 1 - len(rows)))
        elif kind == "null_note":
            row[3] = None
    return [tuple(r) for r in rows]


# The test's own model of the checks.
def duplicated(ids: list[Any]) -> bool:
    """unique(id) fails on an id seen twice; GROUP BY puts NULLs together, so two NULLs too."""
    return any(n > 1 for n in Counter(ids).values())


def latest_passes(rows: list[Row]) -> bool:
    ids = [r[0] for r in rows]
    return (
        None not in ids
        and not duplicated(ids)
        and all(r[1] is None or r[1] in STATUSES for r in rows)
        and all(r[2] is None or r[2] >= 0 for r in rows)
        and len(rows) <= MAX_ROWS
    )


def drop(root: Path, drop_no: int, rows: list[Row]) -> None:
    table = pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA)
    path = root / "landing" / "items" / f"batch-{drop_no:03}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def table_path(root: Path, name: str) -> Path:
    return root / "lake" / name.replace(".", "/")


def published(root: Path, name: str) -> tuple[int | None, list[Row]]:
    """The table's latest Delta version and its rows (None and [] when it was never published)."""
    path = table_path(root, name)
    if not (path / "_delta_log").is_dir():
        return None, []
    dt = DeltaTable(str(path))
    data = dt.to_pyarrow_table()
    return dt.version(), sorted((tuple(r.values()) for r in data.to_pylist()), key=repr)


def assert_no_staged_leftovers(root: Path) -> None:
    """Every Parquet file in a table's folder belongs to one of its versions; no staging folder."""
    for name in TABLES:
        path = table_path(root, name)
        if not path.exists():
            continue
        assert not [p for p in path.iterdir() if p.name.startswith("_staging")], name
        on_disk = {p.resolve() for p in path.rglob("*.parquet") if "_delta_log" not in p.parts}
        referenced: set[Path] = set()
        if (path / "_delta_log").is_dir():
            latest = DeltaTable(str(path)).version()
            for v in range(latest + 1):
                referenced |= {
                    Path(u.removeprefix("file://")).resolve() for u in DeltaTable(str(path), version=v).file_uris()
                }
        assert on_disk <= referenced, (
            f"{name}: staged files left behind: {sorted(p.name for p in on_disk - referenced)}"
        )


def summary_of(rows: list[Row]) -> list[Row]:
    return [(len(rows), sum(r[2] for r in rows), rows[0][4])]


@settings(
    max_examples=60 if SOAK else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.tuples(st.integers(1, MAX_ROWS), batch()), min_size=2, max_size=4))
# Every kind of violation at least once, whatever hypothesis draws: a failure first, then recoveries.
@example(
    batches=[
        (3, (["null_id", "null_note"], [(1, 0), (2, 0)])),
        (4, ([], [])),
        (2, (["bad_status"], [(0, 0)])),
        (5, (["null_note"], [(3, 0)])),
        (3, (["earlier_id"], [(0, 4)])),
    ]
)
@example(
    batches=[
        (2, (["dup_id"], [(0, 1)])),
        (6, (["negative", "too_many"], [(2, 7), (0, 0)])),
        (1, ([], [])),
    ]
)
def test_failing_error_checks_never_publish(
    tmp_path: Path, batches: list[tuple[int, tuple[list[str], list[tuple[int, int]]]]]
) -> None:
    root = init_workspace(tmp_path / f"h-{next(_counter)}")
    write(root / "models" / "silver" / "latest.sql", LATEST)
    write(root / "models" / "gold" / "summary.sql", SUMMARY)
    write(root / "models" / "silver" / "all.sql", ALL)

    everything: list[Row] = []  # every row dropped so far
    good_latest: list[Row] | None = None  # the newest batch that passed silver.latest's checks
    latest_versions = 0
    good_all: list[Row] | None = None
    all_versions = 0
    for drop_no, (size, (kinds, spots)) in enumerate(batches):
        rows = make_rows(drop_no, size, kinds, spots, everything)
        everything += rows
        drop(root, drop_no, rows)
        latest_ok = latest_passes(rows)
        all_ok = not duplicated([r[0] for r in everything])
        warned = latest_ok and any(r[3] is None for r in rows)

        if drop_no == len(batches) - 1:  # the last run as a user runs it
            proc = run_rat("run", "-w", str(root))
            assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
            assert proc.returncode == (0 if latest_ok and all_ok else 1), proc.stderr
            if not latest_ok:
                assert any(ln.startswith("FAILED silver.latest") and "check " in ln for ln in proc.stderr.splitlines())
        else:
            e = Engine.open(root)
            try:
                report = e.run()
                results = {m: {r.name: r for r in rs} for m, rs in report.checks.items()}
            finally:
                e.close()
            assert report.status == ("ok" if latest_ok and all_ok else "failed"), report.failed
            if latest_ok:
                assert {"silver.latest", "gold.summary"} <= set(report.built), report.failed
                warn = results["silver.latest"]["expression(note is not null)"]
                assert (warn.status, warn.severity) == (("fail", "warn") if warned else ("pass", "warn"))
            else:
                assert "check " in report.failed["silver.latest"]
                assert any(r.blocks for r in results["silver.latest"].values())
                assert report.skipped == {"gold.summary": "upstream silver.latest failed its checks"}
            assert ("silver.all" in report.built) == all_ok
            assert ("silver.all" in report.failed) == (not all_ok)

        if latest_ok:
            good_latest, latest_versions = rows, latest_versions + 1
        if all_ok:
            good_all, all_versions = list(everything), all_versions + 1
        # Published: the last good version of each table, whole; nothing of a failed build.
        expected = {
            "silver.latest": (good_latest, latest_versions),
            "gold.summary": (summary_of(good_latest) if good_latest else None, latest_versions),
            "silver.all": (good_all, all_versions),
        }
        for name, (want_rows, versions) in expected.items():
            version, got = published(root, name)
            assert version == (versions - 1 if versions else None), (name, version, versions)
            assert got == sorted(want_rows or [], key=repr), name
        assert_no_staged_leftovers(root)
