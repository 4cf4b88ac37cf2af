"""The SQL editor: a TextArea with SQL highlighting that runs the statement under the cursor."""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea


def statement_at(text: str, offset: int) -> str:
    """The `;`-separated statement around `offset` (quotes and comments respected)."""
    bounds = [0]
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == ";":
            bounds.append(i + 1)
        i += 1
    bounds.append(len(text) + 1)
    pieces = [(start, end) for start, end in pairwise(bounds)]
    for i, (start, end) in enumerate(pieces):
        if start <= offset < end:
            # Right after a `;` (only blanks before the cursor): the statement just typed.
            if i > 0 and not text[start:offset].strip():
                start, end = pieces[i - 1]
            return text[start : min(end, len(text))].strip().rstrip(";").strip()
    return text.strip()


class SqlEditor(TextArea):
    """Type SQL; ctrl+enter or ctrl+j runs the selection or the statement under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+enter", "run", "Run", show=False, priority=True),
        Binding("ctrl+j", "run", "Run query", priority=True),
        Binding("ctrl+underscore,ctrl+slash", "toggle_comment", "Comment", show=False),
    ]

    class Run(Message):
        """The user asked to run this SQL."""

        def __init__(self, sql: str) -> None:
            self.sql = sql
            super().__init__()

    def __init__(self, text: str = "", **kwargs: object) -> None:
        super().__init__(text, language="sql", soft_wrap=False, show_line_numbers=True, **kwargs)  # type: ignore[arg-type]

    def current_sql(self) -> str:
        if self.selected_text.strip():
            return self.selected_text.strip()
        row, col = self.cursor_location
        lines = self.text.split("\n")
        offset = sum(len(line) + 1 for line in lines[:row]) + col
        return statement_at(self.text, offset)

    def action_run(self) -> None:
        sql = self.current_sql()
        if sql:
            self.post_message(self.Run(sql))

    def action_toggle_comment(self) -> None:
        """`-- ` at the start of the selected lines (or the cursor's line), or off if all have it."""
        start, end = sorted((self.selection.start[0], self.selection.end[0]))
        lines = self.text.split("\n")
        block = lines[start : end + 1]
        commented = all(line.lstrip().startswith("--") for line in block if line.strip())
        if commented:
            new = [
                line.replace("-- ", "", 1) if line.lstrip().startswith("-- ") else line.replace("--", "", 1)
                for line in block
            ]
        else:
            new = ["-- " + line if line.strip() else line for line in block]
        row, col = self.cursor_location
        self.replace("\n".join(new), (start, 0), (end, len(lines[end])))
        self.cursor_location = (row, max(0, col + (len(new[row - start]) - len(block[row - start]))))

    def insert_at_cursor(self, text: str) -> None:
        self.insert(text)
