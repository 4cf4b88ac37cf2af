"""Every engine event has a wire name, a line (or a deliberate silence) in the command line, and a
row in the README's event stream table with all its fields."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from rat_tui.engine import events as ev
from rat_tui.narration import FORMATTERS, describe_event

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_event_has_a_formatter() -> None:
    assert len(ev.EVENTS) >= 20  # the registry is filled by the classes themselves
    missing = [name for name, cls in ev.EVENTS.items() if cls not in FORMATTERS]
    assert not missing, f"events the command line has no formatter for: {missing}"


def test_wire_names_are_declared_and_unique() -> None:
    assert {cls.WIRE for cls in ev.EVENTS.values()} == set(ev.EVENTS)
    with pytest.raises(TypeError, match="wire name"):

        @dataclasses.dataclass(frozen=True)
        class Unnamed(ev.Event):  # type: ignore[call-arg]
            x: int

    with pytest.raises(TypeError, match="share the wire name"):

        @dataclasses.dataclass(frozen=True)
        class Twice(ev.Event, wire="RunStarted"):
            x: int


def test_the_readme_lists_every_event_with_its_fields() -> None:
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|", README, re.MULTILINE)}
    for name, cls in ev.EVENTS.items():
        assert name in rows, f"README's event stream table lacks {name}"
        listed = set(re.findall(r"`(\w+)`", rows[name]))
        assert listed == {f.name for f in dataclasses.fields(cls)}, name


def test_some_lines_as_the_command_line_prints_them() -> None:
    assert describe_event(ev.ChangeSeen("landing", "orders/a.csv")) == "change: orders/a.csv"
    assert describe_event(ev.RunStarted("r1")) is None
    line = describe_event(ev.ModelFinished("silver.orders", "ok", rows=1200, version=3, seconds=0.5))
    assert line == "built silver.orders: 1,200 rows, version 3 (0.50s)"
    assert describe_event(ev.RunFinished("r1", "noop", 0, 0, 0, 0, 0, 0.1)) is None
    # rat watch said "1 files ingested" where rat run says "1 file ingested" (found by a review).
    one = describe_event(ev.RunFinished("r1", "ok", 1, 0, 1, 0, 0, 0.25))
    assert one == "run r1 ok: 1 file ingested, 1 model built, 0 failed (0.25s)"
