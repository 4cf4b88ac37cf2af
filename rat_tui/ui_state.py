"""What the workbench remembers between sessions, in .rat/: the editor tabs (buffers.json) and the
look (workbench.json). Every write goes through one atomic writer: a crash or a second workbench
leaves the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` atomically (a temporary file in the same folder, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable (a workbench starts anyway)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class UiState:
    """The files of one workspace's workbench state."""

    def __init__(self, state_dir: Path) -> None:
        self.buffers_file = state_dir / "buffers.json"
        self.ui_file = state_dir / "workbench.json"

    def buffers(self, default: str) -> list[str]:
        """The editor tabs' texts as saved; one tab holding `default` when none were."""
        texts = read_json(self.buffers_file)
        if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
            return texts
        return [default]

    def save_buffers(self, texts: list[str]) -> None:
        write_json(self.buffers_file, texts)

    def theme(self) -> str | None:
        data = read_json(self.ui_file)
        theme = data.get("theme") if isinstance(data, dict) else None
        return theme if isinstance(theme, str) else None

    def save_theme(self, theme: str) -> None:
        """Remember the theme (other keys of workbench.json are kept); a read-only workspace keeps
        working, the theme is just not remembered."""
        data = read_json(self.ui_file)
        data = data if isinstance(data, dict) else {}
        data["theme"] = theme
        try:
            write_json(self.ui_file, data)
        except OSError:
            pass
