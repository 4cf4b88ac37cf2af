"""rat's engine: everything that touches data. It never imports textual and never prints."""

from rat_tui.engine.engine import Engine, RunReport
from rat_tui.engine.errors import RatError
from rat_tui.engine.states import BuildState
from rat_tui.engine.workspace import LAYERS, MODEL_LAYERS

__all__ = ["LAYERS", "MODEL_LAYERS", "BuildState", "Engine", "RatError", "RunReport"]
