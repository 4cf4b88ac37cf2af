"""The README's Quick start: exactly two lines, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the Quick start has a sh code block"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_quick_start_has_two_lines_demo_then_tests() -> None:
    lines = quick_start_lines()
    assert len(lines) == 2
    assert "rat demo" in lines[0]
    assert "[test]" in lines[1] and "pytest" in lines[1]


def test_ci_runs_the_readme_test_line_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start_lines()[1] in ci
