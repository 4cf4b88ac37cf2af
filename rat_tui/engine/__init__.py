"""rat's engine: everything that touches data. It never imports textual and never prints."""

from rat_tui.engine.engine import Engine, RunReport
from rat_tui.engine.errors import RatError

__all__ = ["Engine", "RatError", "RunReport"]
