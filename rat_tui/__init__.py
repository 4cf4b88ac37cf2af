"""rat: a terminal data workbench over one folder (landing -> bronze -> silver -> gold)."""

__version__ = "0.1.0"
