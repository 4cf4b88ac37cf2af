"""Schedules: cron for sources and models (engine/schedule.py), missed firings collapsed into
one, failed pulls retried with backoff, a scheduled model rebuilt without new input."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import run_rat, write

from rat_tui.engine import Engine
from rat_tui.engine.records import PullRecord
from rat_tui.engine.schedule import ScheduleError, parse_schedule
from rat_tui.engine.sources.pulling import RETRY_FIRST_SECONDS, next_due
from rat_tui.engine.sources.spec import HttpSource

AT = datetime(2026, 3, 28, 23, 50, tzinfo=UTC)  # the night Berlin moves its clocks forward


@pytest.mark.parametrize(
    ("text", "zone", "after", "fires"),
    [
        ("*/15 * * * *", "UTC", AT, "2026-03-29T00:00"),
        ("0 6 * * mon-fri", "Europe/Berlin", AT, "2026-03-30T04:00"),  # Monday 06:00 CEST
        ("30 2 * * *", "Europe/Berlin", AT, "2026-03-30T00:30"),  # 02:30 does not exist on the 29th
        ("@daily", "UTC", AT, "2026-03-29T00:00"),
        ("0 0 29 2 *", "UTC", AT, "2028-02-29T00:00"),
        ("0 9 1 * 1", "UTC", AT, "2026-03-30T09:00"),  # both day fields: either one fires (cron)
        ("5 4 * * 7", "UTC", AT, "2026-03-29T04:05"),  # 7 is Sunday too
        ("0 0 */2 * 1", "UTC", AT, "2026-04-13T00:00"),  # */2 starts with *: both day fields must match
        ("* * */13 12 2", "UTC", AT, "2026-12-01T00:00"),  # rare (found by comparing with croniter)
        ("*/15 * * * *", "UTC", datetime(2026, 1, 1, 0, 15, tzinfo=UTC), "2026-01-01T00:30"),  # strictly after
    ],
)
def test_next_firing(text: str, zone: str, after: datetime, fires: str) -> None:
    assert parse_schedule(text, zone).next_after(after).isoformat(timespec="minutes") == fires + "+00:00"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("* * *", "five fields"),
        ("61 * * * *", "outside 0-59"),
        ("0 0 31 2 *", "never fires"),
        ("*/0 * * * *", "step of 0"),
        ("0 0 * * xyz", "name cron does not know"),
    ],
)
def test_bad_schedules_say_why(text: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(text)


def pulled(at: datetime, status: str = "ok") -> PullRecord:
    return PullRecord(at.isoformat(), at.isoformat(), status, 1, 1, None, None)


def test_a_scheduled_source_is_due_once_however_many_firings_it_missed() -> None:
    source = HttpSource("s", "https://x.example", schedule="*/15 * * * *")
    last = pulled(datetime(2026, 1, 1, 0, 3, tzinfo=UTC))
    assert next_due(source, last) == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
    # Down for a day: the first firing after the last pull is long past, so it is due now, once;
    # the pull it makes moves the next due time to the next firing after it.
    now = datetime(2026, 1, 2, 0, 7, tzinfo=UTC)
    assert next_due(source, last) <= now  # type: ignore[operator]
    assert next_due(source, pulled(now)) == datetime(2026, 1, 2, 0, 15, tzinfo=UTC)


def test_failed_pulls_are_retried_with_backoff_never_later_than_the_schedule() -> None:
    source = HttpSource("s", "https://x.example", every=6 * 3600.0)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    waits = [(next_due(source, pulled(at, "failed"), n) - at).total_seconds() for n in (1, 2, 3, 4)]  # type: ignore[operator]
    assert waits == [RETRY_FIRST_SECONDS * f for f in (1, 2, 4, 8)]
    assert (next_due(source, pulled(at, "failed"), 40) - at).total_seconds() == 3600  # type: ignore[operator]
    hourly = HttpSource("s", "https://x.example", every=600.0)
    assert (next_due(hourly, pulled(at, "failed"), 10) - at).total_seconds() == 600  # type: ignore[operator]


def test_rat_status_shows_the_failures_in_a_row_and_the_next_try(ws: Path) -> None:
    with open(ws / "rat.toml", "a", encoding="utf-8") as f:
        f.write('\n[sources.down]\ntype = "http"\nurl = "http://127.0.0.1:9/x"\nretries = 0\nschedule = "0 * * * *"\n')
    for _ in range(2):
        assert run_rat("pull", "-w", str(ws)).returncode == 1
    status = run_rat("status", "-w", str(ws)).stdout
    assert "source down -> bronze.down (schedule 0 * * * *): FAILED at" in status
    assert "2 in a row, next try" in status


def test_source_schedule_settings_are_checked(tmp_path: Path) -> None:
    base = '[sources.s]\ntype = "http"\nurl = "https://x.example"\n'
    for body, says in [
        (base + 'schedule = "*/15 * * *"\n', "sources.s.schedule"),
        (base + 'schedule = "0 * * * *"\nevery = "1h"\n', "keep one of them"),
        (base + 'schedule = "0 * * * *"\ntimezone = "Mars/Base"\n', "sources.s.timezone"),
    ]:
        (tmp_path / "rat.toml").write_text(body)
        done = run_rat("status", "-w", str(tmp_path))
        assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_scheduled_model_is_rebuilt_when_its_schedule_fired_even_without_new_input(ws: Path) -> None:
    write(ws / "landing" / "t.csv", "id\n1\n2\n")
    write(
        ws / "models" / "gold" / "today.sql",
        '/* rat\nschedule = "0 6 * * *"\ntimezone = "Europe/Berlin"\n*/\nselect count(*) as n, current_date as day from bronze.t',
    )
    assert run_rat("run", "-w", str(ws)).returncode == 0
    assert "nothing to do" in run_rat("run", "-w", str(ws)).stderr  # it has not fired since
    # Built two days ago: 06:00 in Berlin has come since.
    db = sqlite3.connect(ws / ".rat" / "state.sqlite")
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    db.execute("update model_state set built_at = ? where model = 'gold.today'", (old,))
    db.commit()
    db.close()
    e = Engine.open(ws)
    try:
        table = e.status().table("gold.today")
        assert (
            table is not None and table.state == "stale" and "its schedule (0 6 * * *) fired at" in (table.detail or "")
        )
        report = e.run()
    finally:
        e.close()
    assert report.built == ["gold.today"] and report.ingested == []
    assert report.next_scheduled is not None and report.next_scheduled > datetime.now(UTC)


def test_a_view_cannot_be_scheduled(ws: Path) -> None:
    write(ws / "landing" / "t.csv", "id\n1\n")
    write(
        ws / "models" / "gold" / "v.sql",
        '/* rat\nmaterialized = "view"\nschedule = "@daily"\n*/\nselect * from bronze.t',
    )
    done = run_rat("run", "-w", str(ws))
    assert done.returncode == 1 and "schedule is for tables" in done.stderr


def test_the_hour_a_clock_goes_back_fires_once_and_never_before_the_moment() -> None:
    """New York, 2026-11-01: 01:00-01:59 happens twice. A pull at the second 01:30 must not find
    a firing 'after' it at the first 01:31 (an hour earlier), or it would be due again at once."""
    every_minute = parse_schedule("* * * * *", "America/New_York")
    second_0130 = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, after the clocks went back
    assert every_minute.next_after(second_0130) == datetime(2026, 11, 1, 6, 31, tzinfo=UTC)
    at_0130 = parse_schedule("30 1 * * *", "America/New_York")
    first = at_0130.next_after(datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first occurrence
    assert at_0130.next_after(first) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # not again an hour later
