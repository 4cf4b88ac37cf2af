"""`${VAR}` placeholders in a source's settings: resolved from the environment for one pull, held
in memory only, and redacted from every text that leaves the pull (errors, events, state, data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import quote, quote_plus

VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Secret values shorter than this are not replaced in pulled records: an ID of "42" read from the
# environment is no secret, and replacing every 42 in the data would corrupt it.
MIN_DATA_SECRET = 8
# Header names whose whole value is treated as a secret, even when written literally in rat.toml.
SENSITIVE_HEADER = re.compile(r"auth|token|key|secret|cookie|session|password", re.IGNORECASE)


def check_template(value: str) -> str | None:
    """Why `value` has a malformed placeholder (`${` not followed by NAME}), or None."""
    rest = VAR_RE.sub("", value)
    if "${" in rest:
        return "has a malformed ${...}: write ${NAME}, a name of letters, digits and _"
    return None


def variables(value: str) -> list[str]:
    return VAR_RE.findall(value)


class MissingVariable(Exception):
    def __init__(self, name: str, where: str) -> None:
        super().__init__(name)
        self.name = name
        self.where = where


class Secrets:
    """The values one pull resolved, and how to take them out of a text."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._labels: dict[str, str] = {}  # a secret value -> what replaces it
        self._ordered: list[tuple[str, str]] | None = None

    def resolve(self, template: str, where: str) -> str:
        """The template with every ${VAR} replaced by the variable's value; MissingVariable if one
        is unset or empty (a `Bearer ` header without its token is never what was meant)."""

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            value = self._env.get(name)
            if not value:
                raise MissingVariable(name, where)
            self.add(value, "${" + name + "}")
            return value

        return VAR_RE.sub(value_of, template)

    def add(self, value: str, label: str = "[redacted]") -> None:
        if not value.strip():
            return
        # The forms the value takes in texts a pull can produce: as is, URL-encoded (an httpx
        # error names the URL with its query), JSON-escaped (a response body, a record).
        for form in (value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]):
            if form and form not in self._labels:
                self._labels[form] = label
        self._ordered = None

    def _pairs(self) -> list[tuple[str, str]]:
        if self._ordered is None:
            # Longest first: `Bearer abc` goes whole before `abc` inside it.
            self._ordered = sorted(self._labels.items(), key=lambda kv: -len(kv[0]))
        return self._ordered

    def redact(self, text: str) -> str:
        """`text` with every secret value (in any of its forms) replaced by `${VAR}` or [redacted]."""
        for value, label in self._pairs():
            if value in text:
                text = text.replace(value, label)
        return text

    def redact_data(self, line: str) -> str:
        """A record's JSON text with secrets of MIN_DATA_SECRET characters or more replaced (an API
        that echoes the request's credentials back must not put them into bronze)."""
        for value, label in self._pairs():
            if len(value) >= MIN_DATA_SECRET and value in line:
                line = line.replace(value, label)
        return line
