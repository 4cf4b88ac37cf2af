"""Typed rows of `.rat/state.sqlite`: a run, a model's build, a check's result, a source's pull, a
model's fingerprint. State builds them; `rat status --json` prints them with `dataclasses.asdict`,
in the table's column order."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, Self


class _Row:
    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> Self:
        """The record of a row holding (at least) its fields' columns."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass
class RunRecord(_Row):
    """One `rat run` (or watch cycle, or handed-over request): what it did and how it ended."""

    run_id: str
    started_at: str
    finished_at: str | None
    status: str  # running | ok | failed | noop
    command: str | None
    files_ingested: int | None
    files_quarantined: int | None
    models_built: int | None
    models_failed: int | None
    error: str | None


@dataclass
class PullRecord(_Row):
    """A source's pull: when, how it went, what it landed (its error redacted of secrets)."""

    started_at: str
    finished_at: str
    status: str  # ok | empty | failed
    records: int
    pages: int
    file: str | None  # the landing file written, relative to landing/
    error: str | None


@dataclass
class SourceStatus:
    """A source of rat.toml: its URL as configured without the query, never a resolved value."""

    name: str
    type: str
    url: str
    table: str
    every: str
    last_pull: PullRecord | None
    cursor: str | int | float | None = None  # an incremental source: the value committed with bronze's rows
    next_due: str | None = None  # when `rat watch` pulls it next (ISO, UTC; None: at once)
    failures: int = 0  # pulls that failed in a row, up to the last


@dataclass
class ModelBuild(_Row):
    """One model's build in a run: how it went, the rows it read and wrote, the version it made."""

    model: str
    started_at: str
    finished_at: str | None
    status: str  # ok | failed | check_failed | skipped
    rows_out: int | None
    version: int | None
    error: str | None
    mode: str | None  # full | incremental | checks
    rows_in: int | None
    error_file: str | None
    error_line: int | None
    error_check: str | None


@dataclass
class CheckRecord(_Row):
    """One check's result in a run, with a few of its failing rows."""

    model: str
    name: str
    severity: str  # error | warn
    status: str  # pass | fail | error
    failing: int
    sample: list[dict[str, Any]]
    message: str | None


@dataclass
class RunDetails:
    """A run with its model builds (in the order they started) and its check results."""

    run: RunRecord | None
    models: list[ModelBuild]
    checks: list[CheckRecord]


class Fingerprint(NamedTuple):
    """What a model's build depends on (`data`) and what its checks are (`checks`)."""

    data: str
    checks: str

    @property
    def key(self) -> str:
        """Both parts in one string: what a build attempt records."""
        return f"{self.data}/{self.checks}"


@dataclass
class QueryRecord(_Row):
    """A query the workbench ran: when, how long, how many rows or the error."""

    id: int
    at: str
    sql: str
    rows: int | None
    seconds: float
    error: str | None


@dataclass
class ModelSource:
    """What builds a table: its model file's text and settings, or for a bronze table its landing
    folder and the files it was ingested from."""

    table: str
    file: str | None  # the model file, relative to the workspace (None: a bronze table)
    text: str
    language: str  # sql | python
    materialized: str | None
    checks: list[str]  # the checks' names
    checks_file: str | None  # `<model>.checks.sql`, when there is one
    landing: str | None  # a bronze table's folder under the workspace
    files: list[tuple[str, int | None, str, str]]  # a bronze table's (path, rows, status, at), newest first


@dataclass(frozen=True)
class Lineage:
    table: str
    upstream: list[str]  # everything it is built from, bronze tables too
    reads: list[str]  # what its model reads directly
    downstream: list[str]  # everything built from it
    edges: list[tuple[str, str]]  # the (read, built) edges among the table, its upstream and downstream

    @classmethod
    def of(cls, table: str, edges: list[tuple[str, str]]) -> Lineage:
        """`table`'s lineage in the graph of (read, built) edges, the one the lineage screen draws."""
        up, down = reachable(edges, table, forward=False), reachable(edges, table, forward=True)
        near = up | down | {table}
        return cls(
            table,
            upstream=sorted(up),
            reads=sorted(a for a, b in edges if b == table),
            downstream=sorted(down),
            edges=[(a, b) for a, b in edges if a in near and b in near],
        )


def reachable(edges: list[tuple[str, str]], start: str, forward: bool) -> set[str]:
    """Every table reachable from `start` along the edges (downstream) or against them (upstream)."""
    out: set[str] = set()
    frontier = [start]
    while frontier:
        cur = frontier.pop()
        for a, b in edges:
            src, dst = (a, b) if forward else (b, a)
            if src == cur and dst not in out:
                out.add(dst)
                frontier.append(dst)
    return out


@dataclass(frozen=True)
class Version:
    """One version of a Delta table, as `rat history` lists it."""

    version: int
    timestamp: str  # the commit's time, UTC, ISO 8601
    operation: str | None  # rat's (ingest <batch>, build, rollback ...) or the Delta writer's
    rows: int | None  # the table's rows at this version
    run: str | None  # the rat run that committed it
    maintenance: bool = False  # no data change (a vacuum's): models reading the table stay up to date
    schema_changes: list[dict[str, Any]] = field(default_factory=list)  # what an ingest added or changed

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Version:
        return cls(
            int(entry["version"]),
            entry["timestamp"],
            entry.get("operation"),
            entry.get("rows"),
            entry.get("run"),
            bool(entry.get("maintenance")),
            list(entry.get("schema_changes") or []),
        )
