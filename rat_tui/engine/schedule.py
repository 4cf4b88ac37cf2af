"""Cron schedules (`schedule = "*/15 * * * *"`) for sources and models: five fields (minute,
hour, day of month, month, day of week) with `*`, lists, ranges, steps and names (`mon-fri`,
`jan`), read in a time zone (IANA name; UTC by default), as Vixie cron reads them: when both
day fields are restricted (neither starts with `*`), a day matching either one fires.

A schedule only ever answers "the first firing after this moment": missed firings while rat was
down collapse into one (the first after the last pull or build is already past).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
HORIZON_DAYS = 28 * 366  # a schedule that never fires in a whole calendar cycle is refused (like "0 0 31 2 *")


class ScheduleError(ValueError):
    """Why a schedule or a time zone is not one; a message for the setting's error line."""


@dataclass(frozen=True)
class Schedule:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month starts with * (cron: then both day fields must match)
    any_weekday: bool  # day of week starts with *
    zone: ZoneInfo

    def _day_fits(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        by_date, by_weekday = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday
        return by_date or by_weekday

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after `moment` (aware), in UTC."""
        after = moment.astimezone(UTC)
        day = moment.astimezone(self.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(HORIZON_DAYS):
            if self._day_fits(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        # Wall-clock times that do not exist (a DST gap) are skipped; repeated ones (the
                        # hour a clock goes back) fire once, at their first occurrence. Compared in UTC:
                        # wall-clock comparisons cannot tell the two occurrences apart.
                        at = day.replace(hour=hour, minute=minute)
                        if _exists(at) and at.astimezone(UTC) > after:
                            return at.astimezone(UTC)
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        raise ScheduleError(f"{self.text!r} never fires")


def _exists(at: datetime) -> bool:
    back = at.astimezone(UTC).astimezone(at.tzinfo)
    return (back.hour, back.minute) == (at.hour, at.minute)


def _field(text: str, index: int) -> tuple[frozenset[int], bool]:
    name, low, high = _FIELDS[index]
    names = _NAMES.get(index, {})
    out: set[int] = set()
    for part in text.lower().split(","):
        match = re.fullmatch(r"(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?", part)
        if not match:
            raise ScheduleError(f"its {name} field {text!r} is not a cron field")
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise ScheduleError(f"its {name} field {text!r} has a step of 0")
        if span == "*":
            first, last = low, high if index != 4 else 6
        else:
            ends = [names.get(v, v) for v in span.split("-")]
            try:
                first, last = (int(ends[0]), int(ends[-1]))
            except ValueError:
                raise ScheduleError(f"its {name} field {text!r} holds a name cron does not know") from None
            if match.group(2) and len(ends) == 1:
                last = high
        if not (low <= first <= high and low <= last <= high and first <= last):
            raise ScheduleError(f"its {name} field {text!r} is outside {low}-{high}")
        out.update(range(first, last + 1, step))
    if index == 4 and 7 in out:  # 7 is Sunday too
        out = (out - {7}) | {0}
    return frozenset(out), text.startswith("*")  # as Vixie cron: "*/2" counts as unrestricted


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f'{name!r} is not a time zone (an IANA name like "Europe/Berlin" or "UTC")') from None


@lru_cache(maxsize=256)  # asked again on every watcher cycle and every plan: parse each once
def parse_schedule(text: str, zone: str = "UTC") -> Schedule:
    fields = _MACROS.get(text.strip().lower(), text).split()
    if len(fields) != 5:
        raise ScheduleError(
            f'{text!r} is not a cron schedule: five fields (minute hour day month weekday), like "*/15 * * * *"'
        )
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    schedule = Schedule(
        text,
        parsed[0][0],
        parsed[1][0],
        parsed[2][0],
        parsed[3][0],
        parsed[4][0],
        parsed[2][1],
        parsed[4][1],
        zone_of(zone),
    )
    schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # refuses one that never fires
    return schedule
