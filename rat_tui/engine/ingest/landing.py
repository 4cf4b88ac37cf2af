"""The landing folder: which files wait there, which bronze table each lands in, their content hash.

`landing/<folder>/**/<file>` lands in `bronze.<folder>`, `landing/<stem>.<ext>` in `bronze.<stem>`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rat_tui.engine.workspace import Workspace

CSV_EXTS = {".csv", ".tsv", ".txt", ".psv", ".tab"}
JSON_EXTS = {".json", ".ndjson", ".jsonl"}
PARQUET_EXTS = {".parquet", ".pq"}
SUPPORTED = CSV_EXTS | JSON_EXTS | PARQUET_EXTS
# Names other tools use while a file is still being written; such files wait until renamed.
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", "~", ".swp")


@dataclass
class LandingFile:
    path: Path
    rel: str  # relative to landing/, with forward slashes
    table: str  # bronze.<name>
    size: int
    mtime_ns: int
    digest: str = ""

    @property
    def folder(self) -> str:
        """The landing folder (or loose file's stem) it belongs to: the key of `[landing.<name>]`."""
        first = self.rel.split("/", 1)[0]
        return first if "/" in self.rel else stem(first)


def table_name_for(name: str) -> str:
    """A safe bronze table name from a folder name or a file stem (accents dropped: `Umsätze` -> `umsatze`)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    safe = re.sub(r"[^0-9a-zA-Z_]+", "_", folded.strip()).strip("_").lower()
    if not safe:
        safe = "unnamed"
    if safe[0].isdigit():
        safe = "t_" + safe
    return f"bronze.{safe}"


def file_kind(name: str) -> tuple[str, bool]:
    """(extension without .gz, compressed?) of a file name."""
    lower = name.lower()
    compressed = lower.endswith(".gz")
    if compressed:
        lower = lower[:-3]
    return Path(lower).suffix, compressed


def stem(name: str) -> str:
    ext, compressed = file_kind(name)
    base = name[:-3] if compressed else name
    return base[: len(base) - len(ext)] if ext else base


def is_pending_name(name: str) -> bool:
    """Dotfiles and names of files still being written are not ingested (yet)."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def scan_landing(ws: Workspace) -> list[LandingFile]:
    """Every settled file in landing/, with the bronze table it maps to."""
    out: list[LandingFile] = []
    root = ws.landing
    if not root.is_dir():
        return out
    for entry in sorted(root.iterdir()):
        if is_pending_name(entry.name):
            continue
        if entry.is_dir():
            table = table_name_for(entry.name)
            for path in sorted(entry.rglob("*")):
                rel_parts = path.relative_to(root).parts
                if any(is_pending_name(p) for p in rel_parts) or not path.is_file():
                    continue
                out.append(_landing_file(path, root, table))
        elif entry.is_file():
            out.append(_landing_file(entry, root, table_name_for(stem(entry.name))))
    return out


def _landing_file(path: Path, root: Path, table: str) -> LandingFile:
    st = path.stat()
    return LandingFile(path, path.relative_to(root).as_posix(), table, st.st_size, st.st_mtime_ns)


def file_digest(path: Path) -> str:
    """The file's content identity: XXH3-128, fast enough (~10 GB/s) to vanish beside the ingest itself."""
    import xxhash

    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
