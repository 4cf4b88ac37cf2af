"""Quarantine and unread settings are never out of sight: `rat status` shows them, `--check` fails."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_rat, write


def test_status_shows_quarantined_files_until_they_are_dealt_with(ws: Path) -> None:
    write(ws / "landing" / "good.csv", "id\n1\n")
    write(ws / "landing" / "orders" / "broken.csv", "a,b\n1,2,3\n")
    write(ws / "landing" / "err.json", '{"error": "rate limited"}')
    assert run_rat("run", "-w", str(ws)).returncode == 1
    text = run_rat("status", "-w", str(ws)).stdout
    assert "quarantine: 2 files could not be read" in text
    assert "landing/orders/broken.csv" in text and "line 2 has 3 fields but line 1 has 2" in text
    assert "landing/err.json" in text and "a single JSON object with no list of records" in text
    status = json.loads(run_rat("status", "-w", str(ws), "--json").stdout)
    assert sorted(q["path"] for q in status["quarantine"]) == ["err.json", "orders/broken.csv"]
    check = run_rat("status", "-w", str(ws), "--check")
    assert check.returncode == 1
    assert "2 problems need attention" in check.stderr
    # The user deals with them: the fixed file dropped again, the other deleted from quarantine.
    write(ws / "landing" / "orders" / "fixed.csv", "a,b\n1,2\n")
    assert run_rat("run", "-w", str(ws)).returncode == 0
    for moved in (ws / ".rat" / "quarantine").rglob("*"):
        if moved.is_file():
            moved.unlink()
    assert "could not be read" not in run_rat("status", "-w", str(ws)).stdout
    assert run_rat("status", "-w", str(ws), "--check").returncode == 0


def test_a_mistyped_header_is_a_warning_not_silently_dropped_checks(ws: Path) -> None:
    write(ws / "landing" / "t.csv", "id\n1\n1\n")
    write(ws / "models" / "silver" / "typo.sql", '/* rats\n[checks]\nunique = ["id"]\n*/\nselect id from bronze.t\n')
    write(
        ws / "models" / "silver" / "below.sql",
        '-- the orders, cleaned\n/* rat\n[checks]\nnot_null = ["id"]\n*/\nselect id from bronze.t\n',
    )
    write(
        ws / "models" / "silver" / "plain.sql", "/* An ordinary comment about this model. */\nselect id from bronze.t\n"
    )
    write(
        ws / "models" / "gold" / "py.py",
        'rat = {"checks": {"unique": ["id"]}}\n\n\ndef model(ctx):\n    return ctx.table("silver.plain")\n',
    )
    done = run_rat("run", "-w", str(ws))
    assert (
        "warning silver.typo: models/silver/typo.sql:1: this /* ... */ block looks like rat settings but is not read "
        "(it starts with 'rats', not `rat`)"
    ) in done.stderr
    assert (
        "models/silver/below.sql:2: this /* ... */ block looks like rat settings but is not read (it is not at the top"
        in done.stderr
    )
    assert "models/gold/py.py:1: settings in rat are not read; rat reads them from RAT = {...}" in done.stderr
    assert "plain.sql" not in done.stderr
    text = run_rat("status", "-w", str(ws)).stdout
    assert "warning: models/silver/typo.sql:1" in text
    assert run_rat("status", "-w", str(ws), "--check").returncode == 1
