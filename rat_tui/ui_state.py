"""What the workbench remembers between sessions, in .rat/: the editor tabs (buffers.json) and the
look (workbench.json). Every write goes through one atomic writer: a crash or a second workbench
leaves the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Buffer:
    """An editor tab: its text, and the file it was opened from or saved to (workspace-relative)."""

    text: str
    path: str | None = None


class UiState:
    """The files of one workspace's workbench state."""

    def __init__(self, state_dir: Path) -> None:
        self.buffers_file = state_dir / "buffers.json"
        self.ui_file = state_dir / "workbench.json"

    def buffers(self) -> list[Buffer]:
        """The editor tabs as saved (an older rat saved their texts alone); one empty tab when none were."""
        saved = read_json(self.buffers_file)
        out: list[Buffer] = []
        for entry in saved if isinstance(saved, list) else []:
            if isinstance(entry, str):
                out.append(Buffer(entry))
            elif isinstance(entry, dict) and isinstance(entry.get("text"), str):
                path = entry.get("path")
                out.append(Buffer(entry["text"], path if isinstance(path, str) else None))
        return out or [Buffer("")]

    def save_buffers(self, buffers: list[Buffer]) -> None:
        """Keep the tabs; empty tabs that name no file are not kept (at least one tab is)."""
        kept = [b for b in buffers if b.text.strip() or b.path] or [Buffer("")]
        write_json(self.buffers_file, [{"text": b.text, "path": b.path} for b in kept])

    def theme(self) -> str | None:
        theme = self.setting("theme")
        return theme if isinstance(theme, str) else None

    def save_theme(self, theme: str) -> None:
        self.save_setting("theme", theme)

    def setting(self, key: str) -> Any:
        """A look setting of workbench.json (the theme, the side column's width), or None."""
        data = read_json(self.ui_file)
        return data.get(key) if isinstance(data, dict) else None

    def save_setting(self, key: str, value: Any) -> None:
        """Remember a look setting (the other keys of workbench.json are kept); a read-only
        workspace keeps working, the setting is just not remembered."""
        data = read_json(self.ui_file)
        data = data if isinstance(data, dict) else {}
        data[key] = value
        try:
            write_json(self.ui_file, data)
        except OSError:
            pass
