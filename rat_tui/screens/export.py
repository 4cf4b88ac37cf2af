"""Prompts: a path (where to export a result with ctrl+e, a .sql file to open with ctrl+o or save
with ctrl+s) and a yes/no question (overwrite a file?)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList

FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}
LISTED = ("models", "queries")  # the folders whose .sql files the open prompt lists


def sql_files(root: Path) -> list[str]:
    """The .sql files under models/ and queries/, relative to the workspace, in order."""
    found = [p for folder in LISTED for p in sorted((root / folder).rglob("*.sql")) if p.is_file()]
    return [p.relative_to(root).as_posix() for p in found]


class PathScreen(ModalScreen[str | None]):
    """Asks for a path (relative to the workspace) ending in one of `suffixes`; with `files`, they
    are listed under the prompt (filtered as you type, down moves into the list) and the input
    completes them (right arrow takes the suggestion)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    PathScreen { align: center middle; }
    PathScreen > Vertical { width: 80; max-width: 95%; height: auto; max-height: 90%; border: round $primary;
        padding: 1 2; background: $surface; }
    PathScreen #export-error { color: $error; }
    PathScreen OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, prompt: str, default: str, suffixes: tuple[str, ...], files: list[str] | None = None) -> None:
        super().__init__()
        self.prompt = prompt
        self.default = default
        self.suffixes = suffixes
        self.files = files or []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt, markup=False)
            suggester = SuggestFromList(self.files, case_sensitive=False) if self.files else None
            # With files listed (open), what is typed continues the folder given; otherwise it replaces the name.
            yield Input(self.default, id="export-path", suggester=suggester, select_on_focus=not self.files)
            yield Label("", id="export-error", markup=False)
            if self.files:
                yield OptionList(*self.files, id="path-files")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        if not self.files:
            return
        needle = event.value.strip().lower()
        shown = [f for f in self.files if needle in f.lower()] or self.files
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(shown)

    def on_key(self, event: events.Key) -> None:
        if event.key == "down" and self.files and self.query_one(Input).has_focus:
            options = self.query_one(OptionList)
            options.focus()
            options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.prompt))

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        suffix = path[path.rfind(".") :].lower() if "." in path else ""
        if suffix not in self.suffixes:
            self.query_one("#export-error", Label).update(f"the file name must end in {' or '.join(self.suffixes)}")
            return
        self.dismiss(path)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def ExportScreen(default: str) -> PathScreen:
    """ctrl+e: where to write the last query's whole result; the extension picks the format."""
    return PathScreen(
        "Export the whole result of the last query to (.csv, .parquet or .json):", default, tuple(FORMATS)
    )


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or enter says yes, n or escape no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 70; max-width: 95%; height: auto; border: round $warning; padding: 1 2;
        background: $surface; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False)
            yield Label("y / enter: yes    n / escape: no", classes="dim", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (find, go to line): enter gives it, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center top; }
    PromptScreen > Vertical { width: 60; max-width: 95%; height: auto; border: round $primary; padding: 0 1;
        margin-top: 3; background: $surface; }
    """

    def __init__(self, prompt: str, default: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt, markup=False)
            yield Input(self.default, id="prompt-input")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
