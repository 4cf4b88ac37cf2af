"""rat's engine: everything that touches data. It never imports textual and never prints."""

from rat_tui.engine.engine import Engine, RunReport
from rat_tui.engine.errors import RatError, Where
from rat_tui.engine.records import (
    CheckRecord,
    Lineage,
    ModelBuild,
    ModelSource,
    PullRecord,
    QueryRecord,
    RunDetails,
    RunRecord,
    SourceStatus,
    Version,
    reachable,
)
from rat_tui.engine.states import FAILING, BuildState
from rat_tui.engine.status import LastRun, TableStatus, WorkspaceStatus
from rat_tui.engine.words import plural
from rat_tui.engine.workspace import LAYERS, MODEL_LAYERS, Workspace

__all__ = [
    "FAILING",
    "LAYERS",
    "MODEL_LAYERS",
    "BuildState",
    "CheckRecord",
    "Engine",
    "LastRun",
    "Lineage",
    "ModelBuild",
    "ModelSource",
    "PullRecord",
    "QueryRecord",
    "RatError",
    "RunDetails",
    "RunRecord",
    "RunReport",
    "SourceStatus",
    "TableStatus",
    "Version",
    "Where",
    "Workspace",
    "WorkspaceStatus",
    "plural",
    "reachable",
]
