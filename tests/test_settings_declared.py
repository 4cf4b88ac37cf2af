"""Every setting of rat.toml is declared once (rat_tui/engine/settings.py), written (commented, at
its default) in the file `rat init` makes, and named in the README; the declaration validates."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from rat_tui.engine import settings
from rat_tui.engine.errors import WorkspaceError

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = (REPO / "workspace_template" / "rat.toml").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")


def template_keys() -> dict[str, str]:
    """The template's settings, commented or not: dotted key -> the value written."""
    keys, table = {}, ""
    for line in TEMPLATE.splitlines():
        text = line.lstrip("# ").rstrip()
        if m := re.match(r"\[([a-z_.]+)\]", text):
            table = m.group(1)
        elif m := re.fullmatch(r"([a-z_]+) = (\S+)", text):
            keys[f"{table}.{m.group(1)}" if table else m.group(1)] = m.group(2)
    return keys


def test_every_setting_is_in_the_template_at_its_default_and_in_the_readme() -> None:
    written = template_keys()
    for s in settings.SETTINGS:
        assert s.key in written, f"workspace_template/rat.toml lacks {s.key}"
        leaf = s.key.rpartition(".")[2]
        assert re.search(rf"\b{leaf}\b", README), f"the README never names {s.key}"
        default = s.default() if callable(s.default) else s.default
        # examples: the folder's name, half the RAM, cores, a token's variable
        if s.key not in ("name", "memory_limit", "threads", "serve.token"):
            assert tomllib.loads(f"v = {written[s.key]}")["v"] == default, s.key


def test_the_template_sets_nothing_undeclared() -> None:
    declared = {s.key for s in settings.SETTINGS}
    undeclared = {k for k in template_keys() if k.split(".")[0] not in ("landing", "sources")} - declared
    assert not undeclared, undeclared


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"workbench": {"fetch_limit": 0}}, "`workbench.fetch_limit` must be a number of rows from 1 to 100,000,000"),
        ({"state_timeout": 0}, "`state_timeout` must be a number of seconds from 0 to 3600, not 0"),
        ({"watch": {"settle_seconds": -1}}, "`watch.settle_seconds` must be a number of seconds from 0 to 600"),
        ({"threads": True}, "`threads` must be a positive integer, not True"),
        ({"memory_limit": "lots"}, '`memory_limit` must be a size like "4GB" or "512MB"'),
        ({"watch": 3}, "`watch` must be a table: [watch]"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(raw: dict, message: str) -> None:
    with pytest.raises(WorkspaceError) as err:
        settings.read(raw, lambda key, why: WorkspaceError(f"rat.toml: setting `{key}` {why}"), "lake")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_defaults_fill_what_is_not_written() -> None:
    values = settings.read({}, lambda key, why: WorkspaceError(why), "lake")
    assert values["name"] == "lake" and values["fetch_limit"] == 100_000 and values["threads"] is None
    assert values["settle_seconds"] == 0.3 and values["state_timeout"] == 30.0 and values["watch_polling"] is False
