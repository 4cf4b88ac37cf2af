"""The version of rat (one place: the package, `rat --version` and the HTTP sources' User-Agent read it)."""

__version__ = "0.1.0"
