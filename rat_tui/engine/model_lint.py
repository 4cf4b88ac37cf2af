"""What in a model file looks meant as rat settings but is not read: warned about, never dropped silently.

A checks block that rat does not parse means checks that never run, and a model that publishes
what they were written to stop. `/* rats`, `/* RAT`, a settings block below another comment, and a
Python model's `rat = {...}` are all read as nothing; each gets a warning naming the file and line.
"""

from __future__ import annotations

import re

HEADER_RE = re.compile(r"\A\s*/\*\s*rat\b(?P<body>.*?)\*/", re.DOTALL)
_BLOCK_RE = re.compile(r"/\*(?P<body>.*?)\*/", re.DOTALL)
# What a block that was meant as the settings holds: a [checks] table or a setting's `key =`.
_SETTINGS_RE = re.compile(
    r"^\s*\[checks\b|^\s*(materialized|strategy|unique_key|partition_by|incremental_input|delete_when|schedule)\s*=",
    re.MULTILINE,
)


def header_warnings(rel: str, text: str) -> list[str]:
    """Block comments that look like rat settings but are not the header rat reads (`/* rats`,
    `/* RAT`, a settings block below another comment): their checks would be dropped silently."""
    header = HEADER_RE.match(text)
    out = []
    for block in _BLOCK_RE.finditer(text):
        if header is not None and header.start() <= block.start() < header.end():
            continue
        body = block.group("body")
        words = body.strip().split(None, 1)
        opener = words[0] if words else ""
        if not (_SETTINGS_RE.search(body) or opener.lower().startswith("rat")):
            continue
        line = text.count("\n", 0, block.start()) + 1
        where = "is not at the top of the file" if opener == "rat" else f"starts with {opener!r}, not `rat`"
        out.append(
            f"{rel}:{line}: this /* ... */ block looks like rat settings but is not read (it {where}); "
            "its settings and checks are ignored: begin the file with /* rat"
        )
    return out


def python_warnings(rel: str, source: str) -> list[str]:
    """A Python model's settings assigned to `rat` or `Rat` (read only as `RAT`)."""
    out = []
    for number, line in enumerate(source.splitlines(), 1):
        m = re.match(r"^(rat|Rat|rat_settings|SETTINGS)\s*=\s*\{", line)
        if m:
            out.append(f"{rel}:{number}: settings in {m.group(1)} are not read; rat reads them from RAT = {{...}}")
    return out
