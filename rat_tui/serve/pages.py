"""The status page at `/`: the tables and their state, what needs attention (failed models and
checks, quarantined files, failed pulls), the last runs and the sources, for people without a
terminal. Plain HTML, no script; it refreshes itself every 30 seconds."""

from __future__ import annotations

import asyncio
from html import escape
from typing import TYPE_CHECKING

from aiohttp import web

from rat_tui.engine import FAILING
from rat_tui.serve.served import SERVED

if TYPE_CHECKING:
    from rat_tui.engine import WorkspaceStatus

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2430; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #dde2ea; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .bad { color: #c62828; font-weight: 600; } .warn { color: #9a6700; }
.attention { background: #fff4f4; border: 1px solid #f2c2c2; padding: .6rem 1rem; border-radius: 6px; }
code { font-size: 13px; } nav a { margin-right: 1rem; }
"""


def _cell(value: object, number: bool = False) -> str:
    text = "" if value is None else (f"{value:,}" if number and isinstance(value, int) else str(value))
    return f'<td class="n">{escape(text)}</td>' if number else f"<td>{escape(text)}</td>"


def _state(state: str) -> str:
    kind = "bad" if state in FAILING else ("ok" if state == "ok" else "warn")
    return f'<td class="{kind}">{escape(state)}</td>'


def render(status: WorkspaceStatus) -> str:
    """The page for one status."""
    problems = [f"{t.name}: {t.state} — {t.error or t.detail or ''}" for t in status.tables if t.state in FAILING]
    problems += [f"landing/{q.path} is in quarantine: {q.reason}" for q in status.quarantine]
    problems += [
        f"source {s.name}: the last pull failed — {s.last_pull.error}"
        for s in status.sources
        if s.last_pull is not None and s.last_pull.status == "failed"
    ]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta http-equiv="refresh" content="30">',
        f"<title>rat · {escape(status.workspace)}</title><style>{STYLE}</style></head><body>",
        f"<h1>rat · {escape(status.workspace)}</h1>",
        '<nav><a href="/workbench/">the workbench</a><a href="/api/tables">/api/tables</a>'
        '<a href="/api/openapi.json">the API (OpenAPI)</a></nav>',
    ]
    if problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in problems)
        out.append(f'<h2>Needs attention</h2><div class="attention"><ul>{items}</ul></div>')
    else:
        out.append('<p class="ok">Every model is built and every check passed; nothing waits in quarantine.</p>')
    out.append("<h2>Tables</h2><table><tr><th>table</th><th>kind</th><th>rows</th><th>version</th>")
    out.append("<th>built</th><th>state</th><th>detail</th></tr>")
    for t in status.tables:
        out.append(
            "<tr>"
            + _cell(t.name)
            + _cell(t.kind)
            + _cell(t.rows, number=True)
            + _cell(t.version, number=True)
            + _cell(t.built_at)
            + _state(str(t.state))
            + _cell(t.error or t.detail)
            + "</tr>"
        )
    out.append("</table><h2>Last runs</h2><table><tr><th>run</th><th>command</th><th>status</th>")
    out.append("<th>started</th><th>files</th><th>built</th><th>failed</th><th>error</th></tr>")
    for r in status.runs:
        out.append(
            "<tr>"
            + _cell(r.run_id)
            + _cell(r.command)
            + _state("ok" if r.status in ("ok", "noop") else ("failed" if r.status == "failed" else r.status))
            + _cell(r.started_at)
            + _cell(r.files_ingested, number=True)
            + _cell(r.models_built, number=True)
            + _cell(r.models_failed, number=True)
            + _cell(r.error)
            + "</tr>"
        )
    out.append("</table>")
    if status.sources:
        out.append("<h2>Sources</h2><table><tr><th>source</th><th>type</th><th>url</th><th>every</th>")
        out.append("<th>last pull</th><th>records</th></tr>")
        for s in status.sources:
            pull = s.last_pull
            out.append(
                "<tr>"
                + _cell(s.name)
                + _cell(s.type)
                + _cell(s.url)
                + _cell(s.every)
                + (_state(pull.status) if pull else _cell("never"))
                + _cell(pull.records if pull else None, number=True)
                + "</tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


async def status_page(request: web.Request) -> web.Response:
    server = request.app[SERVED]
    status = await asyncio.to_thread(server.engine.status)
    return web.Response(text=render(status), content_type="text/html")
