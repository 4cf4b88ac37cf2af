"""The SQL editor: a TextArea with SQL highlighting that runs the statement under the cursor."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import TextArea

from rat_tui.actions import bindings
from rat_tui.widgets.completion import Completer, CompletionList

PLACEHOLDER = "type SQL here, ctrl+j runs it · ctrl+space completes · f1 lists the keys"


def statement_bounds(text: str, offset: int) -> tuple[int, int]:
    """[start, end) of the `;`-separated statement around `offset` (quotes and comments respected);
    right after a `;` (only blanks before the cursor), the statement just typed."""
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
    pieces = list(pairwise(bounds))
    for i, (start, end) in enumerate(pieces):
        if start <= offset < end:
            if i > 0 and not text[start:offset].strip():
                start, end = pieces[i - 1]
            return start, min(end, len(text))
    return 0, len(text)


def quote_name(name: str) -> str:
    """`name` as SQL reads it: as it is when it is a plain lower-case identifier, else in double quotes."""
    import re

    plain = re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name.upper() not in _RESERVED
    return name if plain else '"' + name.replace('"', '""') + '"'


_RESERVED = {"SELECT", "FROM", "WHERE", "GROUP", "ORDER", "BY", "LIMIT", "TABLE", "USER", "AS", "AND", "OR",
             "NOT", "JOIN", "ON", "CASE", "WHEN", "END", "DEFAULT", "CHECK", "COLUMN", "TO", "IN", "IS", "NULL"}  # fmt: skip


def statement_at(text: str, offset: int) -> str:
    """The `;`-separated statement around `offset` (quotes and comments respected)."""
    start, end = statement_bounds(text, offset)
    return text[start:end].strip().rstrip(";").strip()


class SqlEditor(TextArea):
    """Type SQL; ctrl+enter or ctrl+j runs the selection or the statement under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("editor")  # rat_tui/actions.py

    class Run(Message):
        """The user asked to run this SQL."""

        def __init__(self, sql: str) -> None:
            self.sql = sql
            super().__init__()

    def __init__(
        self, text: str = "", completer: Completer | None = None, path: str | None = None, **kwargs: object
    ) -> None:
        super().__init__(
            text,
            language="sql",
            soft_wrap=False,
            show_line_numbers=True,
            placeholder=PLACEHOLDER,
            **kwargs,  # type: ignore[arg-type]
        )
        self.completer = completer
        self.path = path  # the file this tab was opened from or saved to, relative to the workspace
        self._ran: str | None = None  # the text a query last ran on: the list stays shut until it changes
        self._disk: tuple[int, int] | None = None  # the file's (mtime, size) when last read or written

    def _stat(self, root: Path) -> tuple[int, int] | None:
        try:
            st = (root / self.path).stat() if self.path else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    def remember_disk(self, root: Path) -> None:
        """The file as it is now on disk is the one this tab knows."""
        self._disk = self._stat(root)

    def changed_on_disk(self, root: Path) -> bool:
        """The tab's file was changed (or removed) by something else since it was read or written."""
        return self.path is not None and self._disk is not None and self._stat(root) != self._disk

    # Completion: the list opens as a name is typed (after two letters, or right after `x.`);
    # up/down move in it, tab or enter take the highlighted name, escape or any other key closes it.

    @property
    def completion_list(self) -> CompletionList | None:
        try:
            return self.screen.query_one(CompletionList)
        except Exception:
            return None

    async def _on_key(self, event: events.Key) -> None:
        popup = self.completion_list
        if popup is not None and popup.display:
            if event.key in ("up", "down"):
                event.stop()
                event.prevent_default()
                if event.key == "up":
                    popup.action_cursor_up()
                else:
                    popup.action_cursor_down()
                popup.moved = True
                return
            # tab takes the highlighted name; enter only once the user has picked one with up/down
            # (otherwise enter is a new line: `order` + enter must not become `order_date`).
            if event.key == "tab" or (event.key == "enter" and popup.moved):
                chosen = popup.chosen
                if chosen is not None:
                    event.stop()
                    event.prevent_default()
                    self.accept_completion(chosen.name, popup.prefix)
                    return
            if event.key == "escape":
                event.stop()
                event.prevent_default()
                popup.hide()
                return
        if event.is_printable or event.key == "backspace":
            # After TextArea has inserted (or deleted) the character.
            self.call_later(self.update_completion, event.key == "backspace")
        elif popup is not None and popup.display:
            popup.hide()

    def cursor_offset(self) -> int:
        """The cursor's place as an index into the text."""
        row, col = self.cursor_location
        return sum(len(line) + 1 for line in self.text.split("\n")[:row]) + col

    def _text_before_cursor(self) -> tuple[str, str]:
        """The text from the start of the statement to the cursor, and the whole statement."""
        offset = self.cursor_offset()
        text = self.text
        start, end = statement_bounds(text, offset)
        start = min(start, offset)
        return text[start:offset], text[start:end]

    def update_completion(self, deleting: bool = False, explicit: bool = False) -> None:
        popup = self.completion_list
        if popup is None or self.completer is None:
            return
        before, statement = self._text_before_cursor()
        prefix, candidates = self.completer.complete(before, statement, explicit)
        after_dot = before[: len(before) - len(prefix)].endswith(".")
        wanted = explicit or after_dot or len(prefix) >= 2 or (deleting and popup.display)
        if not candidates or not wanted or not self.has_focus or (self._ran == self.text and not explicit):
            popup.hide()
            return
        x, y = self.cursor_screen_offset
        popup.show(prefix, candidates, x - len(prefix), y + 1)
        popup.opened_at = self.cursor_location

    def on_text_area_selection_changed(self) -> None:
        """A click or a key that moves the cursor away from where the list opened closes it."""
        popup = self.completion_list
        if popup is not None and popup.display and popup.opened_at != self.cursor_location:
            popup.hide()

    def action_complete(self) -> None:
        self.update_completion(explicit=True)

    def accept_completion(self, name: str, prefix: str) -> None:
        """Replace the word at the cursor (the prefix typed and the rest of the word after it)."""
        popup = self.completion_list
        if popup is not None:
            popup.hide()
        row, col = self.cursor_location
        line = self.document[row]
        if col < len(prefix) or line[col - len(prefix) : col] != prefix:
            return  # the text changed under the list: nothing to replace safely
        end = col
        while end < len(line) and (line[end].isalnum() or line[end] == "_"):
            end += 1
        self.replace(name, (row, col - len(prefix)), (row, end))

    def _on_blur(self, event: events.Blur) -> None:
        popup = self.completion_list
        if popup is not None:
            popup.hide()

    def current_sql(self) -> str:
        if self.selected_text.strip():
            return self.selected_text.strip()
        return statement_at(self.text, self.cursor_offset())

    def action_run(self) -> None:
        # ctrl+j is a priority binding: the app runs it as soon as the key arrives, while keys typed
        # just before it may still wait in this editor's queue. Run after them, on what was typed.
        self.call_later(self._run_typed)

    def _run_typed(self) -> None:
        self._ran = self.text  # a completion of the last word, queued behind the run, stays shut
        popup = self.completion_list
        if popup is not None:
            popup.hide()  # the query runs what is typed; the list would hide its first rows
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

    def action_format_sql(self) -> None:
        """Format the selection, or the whole tab, with sqlfmt (Harlequin's formatter: it keeps
        DuckDB's syntax); one undo (ctrl+z) puts the text back. A text it cannot parse is left
        as it is, with the reason."""
        from sqlfmt.api import format_string
        from sqlfmt.exception import SqlfmtError
        from sqlfmt.mode import Mode

        selected = bool(self.selected_text.strip())
        start, end = sorted((self.selection.start, self.selection.end)) if selected else ((0, 0), self.document.end)
        text = self.get_text_range(start, end)
        if not text.strip():
            return
        try:
            new = format_string(text, Mode(dialect_name="polyglot"))
        except SqlfmtError as exc:
            message = str(exc).removeprefix("sqlfmt encountered an error: ")
            self.notify(f"not formatted: {message}", severity="warning", markup=False)
            return
        if selected or not text.endswith("\n"):
            new = new.rstrip("\n")
        if new != text:
            row = self.cursor_location[0]
            self.replace(new, start, end)
            if not selected:
                self.move_cursor((min(row, self.document.line_count - 1), 0))

    def find_next(self, needle: str) -> bool:
        """Select the next `needle` after the cursor (case-insensitive, wrapping to the top)."""
        if not needle:
            return False
        text, low = self.text, needle.lower()
        at = text.lower().find(low, self.cursor_offset())
        if at < 0:
            at = text.lower().find(low)
        if at < 0:
            return False

        def location(index: int) -> tuple[int, int]:
            return text.count("\n", 0, index), index - (text.rfind("\n", 0, index) + 1)

        start, end = location(at), location(at + len(needle))
        self.selection = self.selection.__class__(start, end)
        self.scroll_cursor_visible(center=True)
        return True

    def goto_line(self, line: int) -> None:
        row = max(0, min(line - 1, self.document.line_count - 1))
        self.move_cursor((row, 0))
        self.scroll_cursor_visible(center=True)

    def action_document_start(self) -> None:
        self.move_cursor((0, 0))

    def action_document_end(self) -> None:
        self.move_cursor(self.document.end)

    def insert_at_cursor(self, text: str) -> None:
        self.insert(text)

    def insert_name(self, name: str) -> None:
        """A table or column name at the cursor: each part quoted when it must be, a space
        before it when it would run into the word before, and after it into the word after."""
        text = ".".join(quote_name(part) for part in name.split("."))
        row, col = self.cursor_location
        line = self.document[row]
        before, after = line[col - 1 : col], line[col : col + 1]
        if before and not before.isspace() and before not in "(,.":
            text = " " + text
        if after and not after.isspace() and after not in "),;.":
            text += " "
        self.insert(text)
