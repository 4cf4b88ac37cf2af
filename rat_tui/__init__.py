"""rat: a terminal data workbench over one folder (landing -> bronze -> silver -> gold)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rat_tui._version import __version__

if TYPE_CHECKING:
    from rat_tui.api import Lake

__all__ = ["Lake", "QueryError", "RatError", "RunResult", "Table", "Version", "__version__", "open"]


def open(path: str | os.PathLike[str] | None = None) -> Lake:
    """Open a rat workspace's lake: `rat_tui.open("shop")`, or `rat_tui.open()` for the nearest
    workspace from the current folder upward (as the `rat` command finds it).

    Returns a Lake:
        lake.sql("select * from gold.daily_revenue")   a DuckDB relation: .pl() .arrow() .df() .fetchall()
        lake.table("silver.orders", version=3)         a polars LazyFrame (time travel by version)
        lake.tables()                                  [Table(name, layer, kind, rows, version, columns)]
        lake.history("gold.daily_revenue")             [Version(version, timestamp, operation, rows, run)]
        lake.diff("gold.daily_revenue")                rows added, removed, changed by the last change
        lake.status()                                  every table's state, the last runs, quarantine
        lake.run() / lake.pull("tickets")              handed to `rat watch` when it is running

    Reads take no lock and see whole committed versions while `rat watch` commits. Raises
    rat_tui.RatError when `path` (or any folder upward) holds no rat.toml.
    """
    from pathlib import Path

    from rat_tui.api import Lake
    from rat_tui.engine.workspace import Workspace

    return Lake(Workspace.find(Path(path) if path is not None else None))


def __getattr__(name: str) -> object:
    # The API's types without importing the engine on `import rat_tui` (the CLI starts fast).
    if name in ("Lake", "Table", "RunResult", "Version"):
        from rat_tui import api

        return getattr(api, name)
    if name in ("RatError", "QueryError"):
        from rat_tui.engine import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'rat_tui' has no attribute {name!r}")
