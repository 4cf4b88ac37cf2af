"""The workbench's vocabulary, declared once: every action with its keys, where it works, its
palette title and its help. The key bindings of the workbench and its widgets, the command
palette (ctrl+p) and the help screen (f1) are made from ACTIONS; tests/test_actions.py checks
that the README's key table lists every key here and that every action exists where it is bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

COPY_ROWS = 10_000  # rows copied at most: OSC 52 payloads past a few MB are dropped by terminals

# The help screen's groups, in order, and the scope each group's keys are bound in.
GROUPS = ("Editor", "Grid", "Lake tree", "Pipeline panel", "Everywhere")


@dataclass(frozen=True)
class Action:
    scope: str  # app | workbench | editor | grid | tree | pipeline | textual (Textual's own)
    action: str  # the action's name in its scope (action_<name>); "" for a key of a widget's own
    keys: str = ""  # Textual key names, comma-separated; "" = palette only
    help: str = ""  # the help screen's line ("" = covered by another row's)
    where: str = "Everywhere"  # the help screen's group
    shown: str = ""  # the key's label in the footer ("" = not in the footer)
    title: str = ""  # the command palette's title ("" = not in the palette)
    palette: str = ""  # the workbench action the palette runs (default: `action`)
    display: str = ""  # the keys as the help screen shows them (default: from `keys`)
    priority: bool = False  # before the focused widget's own keys (the editor's ctrl+w, ctrl+e)

    @property
    def key_text(self) -> str:
        return self.display or " / ".join(self.keys.split(","))


ACTIONS: tuple[Action, ...] = (
    # Running a query first: the help screen lists each group in this order.
    Action("editor", "run", "ctrl+j", "run the selection, or the statement under the cursor", "Editor", "Run query",
           "Run query", palette="run_query_key", display="ctrl+j / ctrl+enter", priority=True),
    Action("editor", "run", "ctrl+enter", where="Editor", priority=True),
    # The workbench screen's keys, in the order the footer shows them (f1 first: it fits at 80 columns).
    Action("app", "help", "f1", "this help", shown="Help", title="Help", palette="app.help", priority=True),
    # A key per pane, from every pane (the grid's tab is its own): Harlequin's f2 editor, f6 catalog.
    Action("workbench", "focus_editor", "f2", "focus the editor", shown="Editor", title="Focus editor",
           priority=True),
    Action("workbench", "focus_results", "f3", "focus the results grid", shown="Results", title="Focus results",
           priority=True),
    Action("workbench", "focus_tree", "f6", "focus the lake tree", shown="Tree", title="Focus lake tree",
           priority=True),
    Action("workbench", "focus_pipeline", "f7", "focus the pipeline panel (shown if it was hidden)",
           shown="Pipeline", title="Focus pipeline", priority=True),
    Action("workbench", "zoom", "f10", "full screen for the focused pane (again: back)", shown="Zoom",
           title="Full-screen pane", priority=True),
    Action("app", "quit", "ctrl+q", "quit", shown="Quit", priority=True),
    Action("workbench", "cancel", "escape", "cancel the running query", "Editor", title="Cancel query"),
    Action("workbench", "history", "f8", "query history: search and reuse past queries (opens a new tab)",
           "Editor", title="Query history"),
    Action("workbench", "new_tab", "ctrl+n", "new editor tab (tabs are kept across restarts)", "Editor",
           title="New tab", priority=True),
    Action("workbench", "close_tab", "ctrl+w", "close this editor tab", "Editor", title="Close tab",
           priority=True),
    Action("workbench", "next_tab", "ctrl+pagedown", "next editor tab", "Editor", title="Next tab",
           display="ctrl+pagedown / ctrl+pageup", priority=True),
    Action("workbench", "previous_tab", "ctrl+pageup", where="Editor", title="Previous tab", priority=True),
    # By number: ctrl+t lists the tabs, a digit picks one (terminals send alt+digit in ways Textual
    # cannot tell apart); "tab 3" in the palette.
    Action("workbench", "pick_tab", "ctrl+t", "the tabs, numbered: a digit (or enter) switches to one", "Editor",
           title="Switch to tab", priority=True),
    *(Action("workbench", f"tab_{n}", title=f"Tab {n}") for n in range(1, 10)),
    Action("workbench", "runs", "f5", "runs: history, each model's build, errors, failed checks with sample rows",
           title="Runs"),
    Action("workbench", "sources", "f11",
           "sources: each API source's last pull, records, cursor, next pull and error; p pulls one now",
           title="Sources"),
    Action("workbench", "lineage", "f12",
           "lineage: the model graph, the selected table's upstream and downstream marked", title="Lineage"),
    Action("workbench", "export", "ctrl+e", "export the last query's whole result (.csv, .parquet, .json)", "Grid",
           title="Export result", priority=True),
    Action("workbench", "copy_cell", "ctrl+y", "copy the cell under the grid's cursor (OSC 52, works over SSH)",
           "Grid", "Copy cell", "Copy cell"),
    Action("workbench", "open_file", "ctrl+o", "open a .sql file into a tab named after it (models/ and queries/ listed)", "Editor",
           title="Open .sql file"),
    Action("workbench", "save_file", "ctrl+s", "save the tab in place (a new tab asks for a name)", "Editor",
           title="Save .sql file"),
    Action("workbench", "view_cell", "ctrl+l", "view the cell under the cursor whole", "Grid", title="View cell"),
    Action("workbench", "toggle_panels", "f9", "hide or show the side panels", title="Toggle panels"),
    Action("workbench", "narrower_side", "alt+left", "narrower / wider side panels (the tree and the pipeline)",
           title="Narrower side panels", display="alt+left / alt+right", priority=True),
    Action("workbench", "wider_side", "alt+right", title="Wider side panels", priority=True),
    Action("workbench", "run_pipeline", "ctrl+r",
           "run the pipeline: ingest what waits in landing/, build what is stale", title="Run pipeline"),
    # The palette's own: no key.
    Action("workbench", "ingest_now", help="", title="Ingest now"),
    Action("workbench", "open_table", title="Open table"),
    Action("textual", "command_palette", "ctrl+p", "command palette: every action by name, themes too"),
    # The editor's other keys.
    Action("editor", "select_all", "ctrl+a", "select all (Harlequin's key)", "Editor", priority=True),
    Action("workbench", "find", "ctrl+f", "find in the editor (ctrl+f then enter again: the next one, wrapping)",
           "Editor", title="Find", priority=True),
    Action("workbench", "goto_line", "ctrl+g", "go to a line of the editor", "Editor", title="Go to line",
           priority=True),
    Action("editor", "format_sql", "f4", "format the selection or the whole tab (sqlfmt; ctrl+z undoes it)",
           "Editor", title="Format SQL", palette="format_sql"),
    Action("editor", "document_start", "ctrl+home", "the start / the end of the text", "Editor",
           display="ctrl+home / ctrl+end"),
    Action("editor", "document_end", "ctrl+end", where="Editor"),
    Action("editor", "toggle_comment", "ctrl+underscore,ctrl+slash", "comment or uncomment the selected lines",
           "Editor", title="Toggle comment", palette="toggle_comment", display="ctrl+/"),
    Action("editor", "complete", "ctrl+space,ctrl+@",
           "complete the name at the cursor (the list also opens as you type); tab or enter takes it", "Editor",
           title="Complete", palette="complete", display="ctrl+space"),
    # The grid's.
    Action("grid", "sort", "s", "sort the results by the cursor's column (again: descending)", "Grid",
           "Sort by column", "Sort results", palette="sort_results"),
    Action("grid", "screen.search_results", "slash", "search the rows shown: the cursor goes to the next cell holding the text",
           "Grid", "Search", "Search results", palette="search_results", display="/"),
    Action("grid", "search_next", "n", "the next cell holding the searched text (wrapping)", "Grid"),
    Action("grid", "narrower", "less_than_sign", "narrower / wider column under the cursor (kept when sorted)",
           "Grid", display="< / >"),
    Action("grid", "wider", "greater_than_sign", where="Grid"),
    Action("grid", "screen.copy_row", "r", "copy the row, tab-separated with a header", "Grid", "Copy row",
           "Copy row", palette="copy_row"),
    Action("grid", "screen.copy_rows", "R", f"copy the rows (up to {COPY_ROWS:,}), tab-separated with a header",
           "Grid", "Copy rows", "Copy rows", palette="copy_rows"),
    # The lake tree's.
    Action("tree", "", "enter", "open the table: preview, schema, profile, versions (d diffs two), lineage",
           "Lake tree"),
    Action("tree", "insert", "i", "insert the table or column name at the editor's cursor (quoted when it must be)",
           "Lake tree", "Insert name"),
    Action("tree", "open_model", "o", "open the table's model file in an editor tab", "Lake tree", "Open model"),
    # The pipeline panel's.
    Action("pipeline", "run_selected", "enter", "run the selected model and everything downstream of it",
           "Pipeline panel", "Run model+"),
    Action("pipeline", "refresh_selected", "f", "rebuild the selected model and its downstream in full",
           "Pipeline panel", "Full refresh"),
    Action("pipeline", "show_error", "e",
           "show the selected model's last error, with its file and line (o opens the file there)",
           "Pipeline panel", "Error"),
    Action("pipeline", "open_model", "o", "open the selected model's file in an editor tab", "Pipeline panel",
           "Open model"),
    Action("pipeline", "run_all", "r", "run the pipeline: ingest what waits in landing/, build what is stale",
           "Pipeline panel", "Run all"),
    Action("pipeline", "ingest_now", "i", "ingest now: take every file in landing/ without waiting for it to settle",
           "Pipeline panel", "Ingest now"),
)  # fmt: skip

PALETTE_HELP = {  # the palette's line for actions whose help line is shared or absent
    "ingest_now": "Take every file in landing/ now, without waiting for it to settle",
    "open_table": "Preview, schema, profile, versions and lineage of the tree's table",
    "previous_tab": "The editor tab before this one",
    "wider_side": "Widen the side panels (the lake tree and the pipeline)",
    **{f"tab_{n}": f"Editor tab {n}" for n in range(1, 10)},
}


def bindings(scope: str) -> list[BindingType]:
    """The key bindings of one scope (the workbench screen binds the app's keys too)."""
    scopes = {scope, "app"} if scope == "workbench" else {scope}
    out: list[BindingType] = []
    for a in ACTIONS:
        if a.scope in scopes and a.keys and a.action:
            name = f"app.{a.action}" if a.scope == "app" and scope != "app" else a.action
            out.append(Binding(a.keys, name, a.shown or a.title or a.action, show=bool(a.shown), priority=a.priority))
    return out


def palette() -> list[tuple[str, str, str]]:
    """(title, the workbench action it runs, its line) for every action the palette offers."""
    out = []
    for a in ACTIONS:
        if a.title:
            action = a.palette or a.action
            line = PALETTE_HELP.get(action) or (a.help[:1].upper() + a.help[1:])
            key = f" ({a.key_text})" if a.keys else ""
            out.append((a.title, action, f"{line}{key}"))
    return out


def help_lines() -> list[tuple[str, str]]:
    """The help screen: (group, "") headers, then (keys, what) lines, group by group."""
    out: list[tuple[str, str]] = []
    for group in GROUPS:
        out.append((group, ""))
        out += [(a.key_text, a.help) for a in ACTIONS if a.where == group and a.help]
    return out
