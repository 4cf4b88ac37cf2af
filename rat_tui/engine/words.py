"""How rat counts things in what it says: "1 row", "2 rows", "10,000 rows"."""

from __future__ import annotations


def plural(n: int, word: str, many: str = "") -> str:
    """`n` with thousands separators and `word`, plural unless n is 1 (`many` when the plural is
    not word + "s")."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"
