"""Completion for the SQL editor: keywords, functions, tables, and columns (members after `x.`).

`Completer` is plain logic over names the app hands it (tables and columns from the lake, keywords
and functions from DuckDB's catalog); `CompletionList` is the drop-down the editor shows under its
cursor. Like Harlequin's, the list opens as you type and tab/enter take the highlighted name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

LAYERS = ("bronze", "silver", "gold")
MAX_SHOWN = 40
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_MEMBER = re.compile(r'((?:[A-Za-z_][A-Za-z0-9_]*|"[^"]+")(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]+"))?)\.([A-Za-z0-9_]*)$')
_SOURCE = re.compile(
    r'\b(?:from|join)\s+((?:[A-Za-z_]\w*|"[^"]+")(?:\.(?:[A-Za-z_]\w*|"[^"]+"))?)(?:\s+(?:as\s+)?([A-Za-z_]\w*))?',
    re.IGNORECASE,
)
# Words after a table that are not its alias.
_NOT_ALIAS = {
    "where", "join", "left", "right", "inner", "outer", "full", "cross", "on", "using", "group", "order",
    "limit", "union", "except", "intersect", "having", "window", "qualify", "natural", "positional", "asof",
    "anti", "semi", "lateral", "as", "select", "offset", "sample", "tablesample", "pivot", "unpivot",
}  # fmt: skip
KIND_ORDER = {"column": 0, "table": 1, "layer": 2, "keyword": 3, "function": 4}


@dataclass(frozen=True)
class Candidate:
    name: str  # what is inserted
    kind: str  # column | table | layer | keyword | function
    detail: str = ""  # e.g. the column's type and table


def _unquote(name: str) -> str:
    return ".".join(part.strip('"') for part in re.findall(r'"[^"]+"|[^.]+', name))


def _ident(name: str) -> str:
    """A name as it must be typed: plain identifiers bare, anything else double-quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


class Completer:
    """What can be typed at a point of the SQL: built from the lake's tables and DuckDB's catalog."""

    def __init__(self) -> None:
        self.keywords: list[str] = []
        self.functions: list[str] = []
        self.columns: dict[str, list[tuple[str, str]]] = {}  # "silver.orders" -> [(name, type)]

    def set_tables(self, columns: dict[str, list[tuple[str, str]]]) -> None:
        self.columns = dict(columns)

    def set_catalog(self, keywords: list[str], functions: list[str]) -> None:
        self.keywords = sorted(set(keywords))
        self.functions = sorted({f for f in functions if not f.startswith("__") and re.fullmatch(r"\w+", f)})

    def _table(self, name: str, statement: str) -> str | None:
        """The table a qualifier names: `silver.orders`, a short `orders`, or an alias in the statement."""
        name = _unquote(name)
        lowered = {t.lower(): t for t in self.columns}
        if name.lower() in lowered:
            return lowered[name.lower()]
        for source, alias in self.sources(statement):
            if alias and alias.lower() == name.lower():
                return source
        short = [t for t in self.columns if t.split(".", 1)[1].lower() == name.lower()]
        return short[0] if len(short) == 1 else None

    def sources(self, statement: str) -> list[tuple[str, str | None]]:
        """(table, alias) for each known table the statement reads after FROM or JOIN."""
        found = []
        lowered = {t.lower(): t for t in self.columns}
        for match in _SOURCE.finditer(statement):
            name = _unquote(match.group(1)).lower()
            alias = match.group(2)
            if alias and alias.lower() in _NOT_ALIAS:
                alias = None
            table = lowered.get(name)
            if table is None:
                short = [t for t in self.columns if t.split(".", 1)[1].lower() == name]
                table = short[0] if len(short) == 1 else None
            if table is not None:
                found.append((table, alias))
        return found

    def complete(self, before: str, statement: str = "", explicit: bool = False) -> tuple[str, list[Candidate]]:
        """The prefix being typed at the end of `before` and what could complete it, best first.

        `statement` is the whole statement around the cursor (its FROM clause may come after it);
        `explicit` (ctrl+space) offers names even before a letter is typed.
        """
        member = _MEMBER.search(before)
        if member and not before[: member.start()].endswith(("'",)):
            qualifier, prefix = member.group(1), member.group(2)
            return prefix, self._members(qualifier, prefix, statement or before)
        word = _WORD.search(before)
        prefix = word.group(0) if word else ""
        if not prefix and not explicit:
            return "", []
        return prefix, self._words(prefix, statement or before)

    def _members(self, qualifier: str, prefix: str, statement: str) -> list[Candidate]:
        low = prefix.lower()
        plain = _unquote(qualifier)
        if plain.lower() in LAYERS:
            tables = [t for t in self.columns if t.split(".", 1)[0] == plain.lower()]
            return [
                Candidate(_ident(t.split(".", 1)[1]), "table", t)
                for t in sorted(tables)
                if t.split(".", 1)[1].lower().startswith(low) and t.split(".", 1)[1].lower() != low
            ]
        table = self._table(qualifier, statement)
        if table is None:
            return []
        return [
            Candidate(_ident(col), "column", f"{kind} · {table}")
            for col, kind in self.columns.get(table, [])
            if col.lower().startswith(low) and col.lower() != low  # typed in full: nothing to offer
        ]

    def _words(self, prefix: str, statement: str) -> list[Candidate]:
        low = prefix.lower()
        upper = prefix.isupper() and len(prefix) > 1
        out: list[Candidate] = []
        seen: set[str] = set()

        def add(c: Candidate) -> None:
            if c.name.lower() not in seen and c.name.lower() != low:
                seen.add(c.name.lower())
                out.append(c)

        # Columns of the tables this statement reads come first: they are what is typed most.
        for table, _alias in self.sources(statement):
            for col, kind in self.columns.get(table, []):
                if col.lower().startswith(low):
                    add(Candidate(_ident(col), "column", f"{kind} · {table}"))
        for table in sorted(self.columns):
            short = table.split(".", 1)[1]
            if table.lower().startswith(low) or short.lower().startswith(low):
                add(Candidate(table, "table", f"{len(self.columns[table])} columns"))
        for layer in LAYERS:
            if layer.startswith(low):
                add(Candidate(layer, "layer"))
        for kw in self.keywords:
            if kw.startswith(low):
                add(Candidate(kw.upper() if upper else kw, "keyword"))
        for fn in self.functions:
            if fn.lower().startswith(low):
                add(Candidate(fn, "function"))
        return out[:MAX_SHOWN]


class CompletionList(OptionList):
    """The drop-down under the editor's cursor; the editor drives it (it never takes focus)."""

    DEFAULT_CSS = """
    CompletionList {
        overlay: screen;
        position: absolute;
        constrain: inside inflect;
        display: none;
        width: auto;
        min-width: 24;
        max-width: 60;
        height: auto;
        max-height: 10;
        border: none;
        padding: 0;
        background: $panel;
    }
    """
    can_focus = False

    def __init__(self) -> None:
        super().__init__(id="completion")
        self.candidates: list[Candidate] = []
        self.prefix = ""
        self.opened_at: tuple[int, int] | None = None  # where the cursor was when the list opened
        self.moved = False  # the user moved the highlight: enter takes it (tab always does)

    def show(self, prefix: str, candidates: list[Candidate], x: int, y: int) -> None:
        self.prefix = prefix
        self.candidates = candidates
        self.clear_options()
        self.add_options(
            [Option(Text.assemble((c.name, "bold"), "  ", (f"{c.kind} {c.detail}".strip(), "dim"))) for c in candidates]
        )
        self.highlighted = 0
        self.moved = False
        self.styles.offset = (x, y)
        self.display = True

    def hide(self) -> None:
        self.display = False
        self.candidates = []
        self.opened_at = None

    @property
    def chosen(self) -> Candidate | None:
        if not self.display or self.highlighted is None or not self.candidates:
            return None
        return self.candidates[self.highlighted]
