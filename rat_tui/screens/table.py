"""The table screen: preview, schema, a profile per column with frequency bars, versions, lineage."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane, TextArea

from rat_tui.engine import plural
from rat_tui.engine.errors import first_line
from rat_tui.engine.profile import PREVIEW_ROWS
from rat_tui.engine.status import layer_order
from rat_tui.engine.workspace import Workspace
from rat_tui.screens.lineage import draw

BAR = 24


def bars(values: list[tuple[Any, int]], total: int) -> str:
    """Top values as frequency bars: `value  ████▌  123 (12%)`."""
    if not values or not total:
        return ""
    widest = max(count for _, count in values)
    lines = []
    for value, count in values:
        eighths = round(BAR * 8 * count / widest)
        bar = "█" * (eighths // 8) + " ▏▎▍▌▋▊▉"[eighths % 8].strip()
        label = "NULL" if value is None else str(value)
        lines.append(f"  {label[:24]:<24} {bar:<{BAR}} {count:,} ({100 * count / total:.0f}%)")
    return "\n".join(lines)


def _short_number(value: Any) -> str:
    """SUMMARIZE gives means as text; numbers are shortened, dates and times left as they are."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)[:19]


def describe_source(source: Any) -> str:
    """The Code tab's heading: the model file, its materialization and checks, or for a bronze
    table its landing folder and the files it was ingested from."""
    if source.file is None:
        lines = [f"ingested from {source.landing} (bronze: no model)"]
        lines += [
            f"  {path}  {plural(rows or 0, 'row')}  {status}  {at[:19]}" for path, rows, status, at in source.files
        ]
        return "\n".join(lines if source.files else [*lines, "  no file ingested yet"])
    checks = ", ".join(source.checks) or "none"
    extra = f" (and {source.checks_file})" if source.checks_file else ""
    return f"model: {source.file}{extra}\nmaterialized: {source.materialized}\nchecks: {checks}"


class TableLoaded(Message):
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        super().__init__()


class DiffLoaded(Message):
    def __init__(self, diff: Any, error: str | None = None) -> None:
        self.diff = diff
        self.error = error
        super().__init__()


class TableScreen(Screen[None]):
    """Everything about one table; escape goes back to the workbench.

    In Versions, `d` compares the selected version with the one before it (or with the version
    marked by `m`): rows added, removed and changed, matched by the model's unique_key if it has one.
    """

    TABS = ("preview", "schema", "code", "profile", "versions", "lineage")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("1", "show_tab(0)", "Tabs", key_display="1-6"),
        *(Binding(str(n + 1), f"show_tab({n})", show=False) for n in range(1, len(TABS))),
        Binding("d", "diff", "Diff"),
        Binding("m", "mark", "Mark"),
    ]

    def __init__(self, workspace: Workspace, table: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.table = table
        self.loaded: dict[str, Any] = {}
        self.marked: int | None = None
        self.diff: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent():
            with TabPane("Preview", id="preview"):
                yield Static("loading…", id="preview-title", markup=False)
            with TabPane("Schema", id="schema"):
                yield DataTable(id="schema-grid", cursor_type="row")
            with TabPane("Code", id="code"):
                yield Static("", id="code-title", markup=False)
                yield TextArea("", read_only=True, show_line_numbers=True, id="code-text")
            with TabPane("Profile", id="profile"), VerticalScroll(id="profile-scroll"):
                yield Static("profiling…", id="profile-text", markup=False)
            with TabPane("Versions", id="versions"):
                yield DataTable(id="versions-grid", cursor_type="row")
                yield Static(
                    "d: diff the selected version with the one before it · m: mark a version to diff against",
                    id="diff-title",
                    markup=False,
                )
            with TabPane("Lineage", id="lineage"), ScrollableContainer(id="lineage-scroll"):
                yield Static("", id="lineage-text", markup=False)
                yield Static("", id="lineage-graph")
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.table
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        from rat_tui.engine import Engine

        engine = Engine(self.workspace)
        data: dict[str, Any] = {"table": self.table}
        try:
            profile = engine.profile(self.table)
            data.update(
                preview=profile.preview,
                total=profile.total,
                schema=profile.schema,
                profile=[vars(c) for c in profile.columns],
            )
            data["versions"] = engine.history(self.table) if self.table.count(".") == 1 else []
            lineage = engine.lineage(self.table)
            data.update(upstream=lineage.upstream, reads=lineage.reads, downstream=lineage.downstream)
            data["edges"] = lineage.edges
            data["states"] = {t.name: str(t.state) for t in engine.status().tables}
            data["source"] = engine.model_source(self.table)
        except Exception as exc:
            data["error"] = first_line(exc)
        finally:
            engine.close()
        self.post_message(TableLoaded(data))

    @on(TableLoaded)
    def _loaded(self, message: TableLoaded) -> None:
        from textual_fastdatatable import ArrowBackend
        from textual_fastdatatable import DataTable as Grid

        data = self.loaded = message.data
        if "error" in data:
            self.query_one("#preview-title", Static).update(f"error: {data['error']}")
            return
        self.query_one("#preview-title", Static).update(
            f"{plural(data['total'], 'row')}"
            + (f"; the first {PREVIEW_ROWS:,} below" if data["total"] > PREVIEW_ROWS else "")
        )
        preview = Grid(backend=ArrowBackend(data["preview"]), null_rep="NULL", render_markup=False)
        self.query_one("#preview", TabPane).mount(preview)
        if self.query_one(TabbedContent).active == "preview":
            preview.focus()  # the screen's main widget: the arrows move through the rows
        schema = self.query_one("#schema-grid", DataTable)
        schema.add_columns("column", "type")
        for col, kind in data["schema"]:
            schema.add_row(col, kind)
        lines = []
        for p in data["profile"]:
            s = p["summary"]  # column_name, type, min, max, approx_unique, avg, std, q25, q50, q75, count, null%
            lines.append(
                f"{p['column']}  ({p['type']})  nulls {s[11]}%  distinct ≈{s[4]:,}  min {s[2]}  max {s[3]}"
                + (f"  mean {_short_number(s[5])}" if s[5] is not None else "")
            )
            if p.get("hist"):
                lines.append(bars(p["hist"], data["total"]))
            elif p["top"] and p["top"][0][1] == 1 and len(p["top"]) > 1:
                sample = ", ".join("NULL" if v is None else str(v)[:20] for v, _ in p["top"][:3])
                lines.append(f"  every value distinct (e.g. {sample} …)")
            else:
                lines.append(bars(p["top"], data["total"]))
            lines.append("")
        self.query_one("#profile-text", Static).update("\n".join(lines) or "no columns")
        versions = self.query_one("#versions-grid", DataTable)
        from rat_tui.engine.ingest.schema import summary

        versions.add_columns("version", "time", "operation", "rows", "run", "schema changes")
        for v in data["versions"]:
            operation = (v["operation"] or "") + (" (maintenance)" if v["maintenance"] else "")
            versions.add_row(
                str(v["version"]),
                v["timestamp"][:19],
                operation,
                f"{v['rows'] or 0:,}",
                v["run"] or "",
                summary(v.get("schema_changes", [])),
            )
        lineage = [f"{self.table}", "", "reads:      " + (", ".join(data["reads"]) or "-")]
        lineage.append("upstream:   " + (", ".join(data["upstream"]) or "-"))
        lineage.append("downstream: " + (", ".join(data["downstream"]) or "-"))
        source = data["source"]
        lineage[1:1] = [*describe_source(source).splitlines()[:3], ""]
        self.query_one("#lineage-text", Static).update("\n".join([*lineage, ""]))
        near = sorted({self.table, *data["upstream"], *data["downstream"]}, key=layer_order)
        self.query_one("#lineage-graph", Static).update(draw(near, data["edges"], self.table, data["states"]))
        self.query_one("#code-title", Static).update(describe_source(source))
        code = self.query_one("#code-text", TextArea)
        code.display = source.file is not None
        if source.file is not None:
            code.language = source.language
            code.load_text(source.text)

    def action_show_tab(self, index: int) -> None:
        """Switch to a tab by its number and focus what it shows, so the arrows scroll it."""
        tab = self.TABS[index]
        self.query_one(TabbedContent).active = tab
        pane = self.query_one(f"#{tab}", TabPane)
        target = next((w for w in pane.query("*") if w.focusable and w.display), None)
        if target is not None:
            target.focus()

    def _selected_version(self) -> int | None:
        grid = self.query_one("#versions-grid", DataTable)
        if not grid.row_count:
            return None
        return int(grid.get_row_at(grid.cursor_row)[0])

    def action_mark(self) -> None:
        self.query_one(TabbedContent).active = "versions"
        version = self._selected_version()
        if version is not None:
            self.marked = version
            self.query_one("#diff-title", Static).update(f"version {version} marked: select another and press d")

    def action_diff(self) -> None:
        self.query_one(TabbedContent).active = "versions"
        version = self._selected_version()
        if version is None:
            return
        if self.marked is not None and self.marked != version:
            v1, v2 = sorted((self.marked, version))
        elif version == 0:
            self.query_one("#diff-title", Static).update(
                "version 0 is the table's first: select a newer one, or mark one with m and diff against it"
            )
            return
        else:
            v1, v2 = version - 1, version
        self.query_one("#diff-title", Static).update(f"comparing version {v1} with {v2}…")
        self.load_diff(v1, v2)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def load_diff(self, v1: int, v2: int) -> None:
        from rat_tui.engine import Engine

        engine = Engine(self.workspace)
        try:
            result = engine.diff(self.table, v1, v2, rows=True)
        except Exception as exc:
            self.post_message(DiffLoaded(None, first_line(exc)))
            return
        finally:
            engine.close()
        self.post_message(DiffLoaded(result))

    @on(DiffLoaded)
    async def _diff_loaded(self, message: DiffLoaded) -> None:
        import pyarrow as pa
        from textual_fastdatatable import ArrowBackend
        from textual_fastdatatable import DataTable as Grid

        await self.query("#diff-grid").remove()  # awaited: the new grid reuses its id
        title = self.query_one("#diff-title", Static)
        if message.error:
            title.update(f"cannot diff: {message.error}")
            return
        d = self.diff = message.diff
        by = f" (rows matched by {', '.join(d.key)})" if d.key else ""
        text = (
            f"version {d.from_version} → {d.to_version}{by}: "
            f"{d.added:,} added, {d.removed:,} removed, {d.changed:,} changed"
        )
        if d.columns_added or d.columns_removed:
            text += (
                f" · columns added: {', '.join(d.columns_added) or '-'}, removed: {', '.join(d.columns_removed) or '-'}"
            )
        title.update(text)
        if d.rows:
            # Values as text: the two versions may disagree on a column's type.
            columns = list(d.rows[0])
            for row in d.rows[1:]:
                columns += [c for c in row if c not in columns]
            table = pa.table({c: [None if r.get(c) is None else str(r.get(c)) for r in d.rows] for c in columns})
            self.query_one("#versions", TabPane).mount(
                Grid(backend=ArrowBackend(table), null_rep="NULL", render_markup=False, id="diff-grid")
            )
