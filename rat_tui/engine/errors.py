"""Errors the engine raises for a user to read: one sentence, what/where/what to do."""


class RatError(Exception):
    """An error caused by the user's input or workspace, shown as one line without a traceback."""


class WorkspaceError(RatError):
    """The workspace is missing or its rat.toml is invalid."""


class ModelError(RatError):
    """A model file cannot be parsed, planned or built."""


class QueryError(RatError):
    """A query failed (bad SQL, unknown table, ...)."""


class LockedError(RatError):
    """Another process holds the workspace's writer lock."""
