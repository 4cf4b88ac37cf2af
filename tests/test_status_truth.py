"""`rat status` never disagrees with `rat run`: the state of every model is what the next run does.

The property drives random edit sequences (break a model, fix it, put its last good SQL back,
tighten a check, loosen it, drop new data) and checks, after every edit, that each model's status
state agrees with what the following `rat run` does with it and with the run's exit code, and that
after the run the status shows its outcome.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import run_rat, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rat_tui.engine import Engine
from rat_tui.engine.engine import RunReport
from rat_tui.engine.workspace import init_workspace

SQL = {
    "good": "select id, v from bronze.t",
    "good2": "select id, v * 2 as v from bronze.t",
    "syntax": "select id, from bronze.t where",
    "unbound": "select id, nope from bronze.t",
}
CHECKS = {
    "none": "",
    "loose": "[checks]\nrow_count = { min = 1 }\n",
    "tight": "[checks]\nrow_count = { min = 1000000 }\n",
}
GOLD = "select count(*) as n, sum(v) as s from silver.a"


def model_a(root: Path, sql: str, checks: str) -> None:
    header = f"/* rat\n{CHECKS[checks]}*/\n" if CHECKS[checks] else ""
    write(root / "models" / "silver" / "a.sql", header + SQL[sql] + "\n")


def states(root: Path) -> dict[str, str]:
    e = Engine.open(root)
    try:
        return {t.name: t.state for t in e.status().tables if t.layer != "bronze"}
    finally:
        e.close()


def outcomes(report: RunReport) -> dict[str, str]:
    out = dict.fromkeys(report.up_to_date, "up_to_date")
    out.update(dict.fromkeys(report.built, "built"))
    out.update(dict.fromkeys(report.skipped, "skipped"))
    for name in report.failed:
        blocked = any(r.blocks for r in report.checks.get(name, []))
        out[name] = "check_failed" if blocked else "failed"
    return out


AGREES = {
    "ok": {"up_to_date"},
    # A stale model is built, unless an upstream model built before it fails: then it is skipped.
    "stale": {"built", "failed", "check_failed", "skipped"},
    "never built": {"built", "failed", "check_failed", "skipped"},
    "failed": {"failed"},
    "check_failed": {"check_failed"},
    "error": {"failed"},
    "skipped": {"skipped"},
}
AFTER = {
    "built": {"ok"},
    "up_to_date": {"ok"},
    "failed": {"failed", "error"},
    "check_failed": {"check_failed"},
    "skipped": {"skipped"},
}

EDITS = st.one_of(
    st.tuples(st.just("sql"), st.sampled_from(sorted(SQL))),
    st.tuples(st.just("checks"), st.sampled_from(sorted(CHECKS))),
    st.tuples(st.just("data"), st.integers(1, 3)),
    st.tuples(st.just("revert"), st.just("")),
)


def _agree(root: Path, step: str) -> None:
    before = states(root)
    e = Engine.open(root)
    try:
        report = e.run()
    finally:
        e.close()
    done = outcomes(report)
    for model, state in before.items():
        assert done[model] in AGREES[state], f"after {step}: status said {model} is {state}, the run did {done[model]}"
    failing = any(o in ("failed", "check_failed") for o in done.values())
    assert (report.status == "failed") == failing, (step, report.status, done)
    if any(s in ("failed", "check_failed", "error") for s in before.values()):
        assert report.status == "failed", f"after {step}: status promised a failure, the run exited 0"
    after = states(root)
    for model, outcome in done.items():
        assert after[model] in AFTER[outcome], (
            f"after {step}: the run did {outcome} with {model}, status says {after[model]}"
        )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EDITS, min_size=3, max_size=7))
def test_property_status_agrees_with_the_next_run(edits) -> None:
    with tempfile.TemporaryDirectory(prefix="rat-status-") as tmp:
        root = Path(tmp) / "ws"
        init_workspace(root)
        write(root / "landing" / "t" / "0.csv", "id,v\n1,10\n2,20\n")
        sql, checks = "good", "none"
        good = (sql, checks)
        model_a(root, sql, checks)
        write(root / "models" / "gold" / "b.sql", GOLD + "\n")
        _agree(root, "the first build")
        for n, (kind, value) in enumerate(edits):
            if kind == "sql":
                sql = value
            elif kind == "checks":
                checks = value
            elif kind == "revert":
                sql, checks = good
            if kind == "data":
                write(root / "landing" / "t" / f"{n + 1}.csv", f"id,v\n{10 + n},{value}\n")
            else:
                model_a(root, sql, checks)
            _agree(root, f"{kind} {value}".strip())
            if states(root).get("silver.a") == "ok":
                good = (sql, checks)


def test_putting_the_last_good_sql_back_is_ok_and_unblocks_downstream(ws: Path) -> None:
    write(ws / "landing" / "t.csv", "id,v\n1,10\n")
    model_a(ws, "good", "none")
    write(ws / "models" / "gold" / "b.sql", GOLD + "\n")
    assert run_rat("run", "-w", str(ws)).returncode == 0
    model_a(ws, "unbound", "none")
    assert run_rat("run", "-w", str(ws)).returncode == 1
    assert states(ws) == {"silver.a": "failed", "gold.b": "skipped"}
    model_a(ws, "good", "none")  # `git checkout models/silver/a.sql`
    text = run_rat("status", "-w", str(ws)).stdout
    assert "nope" not in text  # no old error quoted on a line that is no longer there
    assert states(ws) == {"silver.a": "ok", "gold.b": "ok"}
    done = run_rat("run", "-w", str(ws))
    assert done.returncode == 0 and "nothing to do" in done.stderr
    status = run_rat("status", "-w", str(ws), "--json")
    assert '"detail": "up to date, matches version 0"' in status.stdout
    assert run_rat("status", "-w", str(ws), "--check").returncode == 0


def test_a_check_tightened_then_put_back_is_ok(ws: Path) -> None:
    write(ws / "landing" / "t.csv", "id,v\n1,10\n")
    model_a(ws, "good", "loose")
    assert run_rat("run", "-w", str(ws)).returncode == 0
    model_a(ws, "good", "tight")
    assert run_rat("run", "-w", str(ws)).returncode == 1
    assert states(ws) == {"silver.a": "check_failed"}
    assert run_rat("status", "-w", str(ws), "--check").returncode == 1
    model_a(ws, "good", "loose")
    assert states(ws) == {"silver.a": "ok"}
    assert run_rat("run", "-w", str(ws)).returncode == 0


def test_a_failed_recheck_upstream_leaves_an_up_to_date_model_up_to_date(ws: Path) -> None:
    """Found by the property above: only silver.a's checks changed (a re-check, no rebuild) and
    they fail on what it published; gold.b read that same data and stays up to date, as status
    said, instead of being skipped; status after the run and the run after that agree."""
    write(ws / "landing" / "t.csv", "id,v\n1,10\n")
    model_a(ws, "good", "loose")
    write(ws / "models" / "gold" / "b.sql", GOLD + "\n")
    assert run_rat("run", "-w", str(ws)).returncode == 0
    model_a(ws, "good", "tight")
    assert states(ws) == {"silver.a": "stale", "gold.b": "ok"}
    for _ in range(2):
        e = Engine.open(ws)
        try:
            report = e.run()
        finally:
            e.close()
        assert outcomes(report) == {"silver.a": "check_failed", "gold.b": "up_to_date"}
        assert report.status == "failed"
        assert states(ws) == {"silver.a": "check_failed", "gold.b": "ok"}
