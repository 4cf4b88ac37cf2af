"""rat: a terminal data workbench over one folder (landing -> bronze -> silver -> gold)."""

from rat_tui._version import __version__

__all__ = ["__version__"]
