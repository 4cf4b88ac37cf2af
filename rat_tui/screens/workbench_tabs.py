"""The workbench's editor tabs: new, close, next, previous and by number; a tab opened from a file
is named after it, saves in place (ctrl+s), asks before overwriting another file, and says when
the file changed on disk. The tabs and their files are kept in .rat/buffers.json."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import TabPane

from rat_tui.screens.workbench_layout import WorkbenchLayout
from rat_tui.ui_state import Buffer
from rat_tui.widgets.sql_editor import SqlEditor

if TYPE_CHECKING:
    from rat_tui.ui_state import UiState
    from rat_tui.widgets.completion import Completer


def tab_title(n: int, path: str | None) -> str:
    """A tab's name: its file's name, else `query <n>`."""
    return Path(path).name if path else f"query {n}"


class WorkbenchTabs(WorkbenchLayout):
    """Editor tabs (the screen subclasses this through WorkbenchActions)."""

    completer: Completer
    ui_state: UiState
    _buffers_dirty: bool

    def buffers(self) -> list[Buffer]:
        return [Buffer(e.text, e.path) for e in self.query(SqlEditor)]

    def save_buffers(self) -> None:
        buffers = self.buffers()
        if not buffers:
            return  # the screen is being torn down: what was saved last stays
        self._buffers_dirty = False
        self.ui_state.save_buffers(buffers)

    def _pane_ids(self) -> list[str]:
        return [str(p.id) for p in self.tabs.query(TabPane)]

    def action_new_tab(self, text: str = "", path: str | None = None) -> SqlEditor:
        n = max((int(i.split("-")[1]) for i in self._pane_ids()), default=0) + 1
        editor = SqlEditor(text, completer=self.completer, path=path)
        if path:
            editor.remember_disk(self.workspace.root)
        self.tabs.add_pane(TabPane(tab_title(n, path), editor, id=f"tab-{n}"))
        self.tabs.active = f"tab-{n}"
        self._buffers_dirty = True
        self.call_after_refresh(editor.focus)
        return editor

    def action_close_tab(self) -> None:
        if self.tabs.tab_count > 1 and self.tabs.active:
            self.tabs.remove_pane(self.tabs.active)
            self._buffers_dirty = True
            self.call_after_refresh(lambda: self.editor.focus())

    def _switch(self, index: int) -> None:
        ids = self._pane_ids()
        if not ids:
            return
        if not 0 <= index < len(ids):
            self.notify(f"there {'is' if len(ids) == 1 else 'are'} {len(ids)} tab{'s' if len(ids) != 1 else ''}")
            return
        self.tabs.active = ids[index]
        self.call_after_refresh(lambda: self.editor.focus())

    def _step(self, by: int) -> None:
        ids = self._pane_ids()
        if ids and self.tabs.active in ids:
            self._switch((ids.index(self.tabs.active) + by) % len(ids))

    def action_next_tab(self) -> None:
        self._step(1)

    def action_previous_tab(self) -> None:
        self._step(-1)

    def action_pick_tab(self) -> None:
        from rat_tui.screens.tab_picker import TabPicker

        ids = self._pane_ids()
        titles = [self.tabs.get_tab(i).label.plain for i in ids]
        current = ids.index(self.tabs.active) if self.tabs.active in ids else 0

        def chosen(index: int | None) -> None:
            if index is None:
                self.call_after_refresh(lambda: self.editor.focus())
            else:
                self._switch(index)

        self.app.push_screen(TabPicker(titles, current), chosen)

    def action_tab_1(self) -> None:
        self._switch(0)

    def action_tab_2(self) -> None:
        self._switch(1)

    def action_tab_3(self) -> None:
        self._switch(2)

    def action_tab_4(self) -> None:
        self._switch(3)

    def action_tab_5(self) -> None:
        self._switch(4)

    def action_tab_6(self) -> None:
        self._switch(5)

    def action_tab_7(self) -> None:
        self._switch(6)

    def action_tab_8(self) -> None:
        self._switch(7)

    def action_tab_9(self) -> None:
        self._switch(8)

    # Find and go to line.

    last_find = ""

    def action_find(self) -> None:
        from rat_tui.screens.export import PromptScreen

        editor = self.editor

        def chosen(needle: str | None) -> None:
            if needle:
                self.last_find = needle
                if not editor.find_next(needle):
                    self.notify(f"{needle!r} is not in this tab", severity="warning", markup=False)
            editor.focus()

        self.app.push_screen(PromptScreen("Find (enter: the next one):", self.last_find), chosen)

    def action_goto_line(self) -> None:
        from rat_tui.screens.export import PromptScreen

        editor = self.editor

        def chosen(text: str | None) -> None:
            if text and text.strip().isdigit():
                editor.goto_line(int(text.strip()))
            elif text:
                self.notify(f"{text!r} is not a line number", severity="warning", markup=False)
            editor.focus()

        self.app.push_screen(PromptScreen(f"Go to line (1-{editor.document.line_count}):"), chosen)

    # Files.

    def relative(self, target: Path) -> str:
        """`target` as the tabs keep it: relative to the workspace when inside it."""
        target = target.resolve()
        root = self.workspace.root.resolve()
        return target.relative_to(root).as_posix() if target.is_relative_to(root) else str(target)

    def open_in_tab(self, target: Path, line: int = 1) -> None:
        """A file in an editor tab named after it, the cursor on `line`; a file open already has
        its tab brought forward."""
        path = self.relative(target)
        for pane in self.tabs.query(TabPane):
            editor = pane.query_one(SqlEditor)
            if editor.path == path:
                self.tabs.active = str(pane.id)
                self._goto(editor, line)
                return
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"{target}: {exc}", title="cannot open", severity="error", markup=False)
            return
        editor = self.action_new_tab(text, path)
        self.call_after_refresh(lambda: self._goto(editor, line))

    def _goto(self, editor: SqlEditor, line: int) -> None:
        row = max(0, min(line - 1, editor.document.line_count - 1))
        editor.cursor_location = (row, 0)
        editor.scroll_cursor_visible(center=True)
        editor.focus()

    def action_save_file(self) -> None:
        """Save in place a tab opened from (or saved to) a file; ask for a name otherwise."""
        editor = self.editor
        if editor.path:
            self._write(editor, self.workspace.root / editor.path)
            return
        self.save_as()

    def save_as(self) -> None:
        from rat_tui.screens.export import ConfirmScreen, PathScreen

        editor = self.editor

        def chosen(path: str | None) -> None:
            if not path:
                return
            target = self.workspace.root / path  # an absolute path stays as it is
            if target.exists() and self.relative(target) != editor.path:

                def confirmed(yes: bool | None) -> None:
                    if yes:
                        self._write(editor, target)

                self.app.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?"), confirmed)
                return
            self._write(editor, target)

        self.app.push_screen(PathScreen("Save this tab's SQL as (.sql):", "queries/query.sql", (".sql",)), chosen)

    def _write(self, editor: SqlEditor, target: Path) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(editor.text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"{target}: {exc}", title="cannot save", severity="error", markup=False)
            return
        path = self.relative(target)
        if editor.path != path:
            editor.path = path
            pane = self.tabs.active_pane
            if pane is not None:
                self.tabs.get_tab(str(pane.id)).label = tab_title(0, path)
            self._buffers_dirty = True
        editor.remember_disk(self.workspace.root)
        self.notify(f"saved {path}", markup=False)

    def check_files(self) -> None:
        """Say once when a tab's file changed on disk since it was opened or saved."""
        for editor in self.query(SqlEditor):
            if editor.path and editor.changed_on_disk(self.workspace.root):
                editor.remember_disk(self.workspace.root)  # said once per change
                self.notify(
                    f"{editor.path} changed on disk; ctrl+s overwrites it with this tab; ctrl+w then ctrl+o reloads it",
                    title="file changed",
                    severity="warning",
                    markup=False,
                )
