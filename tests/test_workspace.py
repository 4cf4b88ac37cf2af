"""Workspace: init from the template, finding rat.toml upward, validating settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rat_tui.engine.errors import WorkspaceError
from rat_tui.engine.workspace import Workspace, WriterLock, init_workspace, load_settings


def test_init_creates_layout_and_gitignore(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "lake1")
    for sub in ("landing", "models/silver", "models/gold"):
        assert (root / sub).is_dir()
    ignored = (root / ".gitignore").read_text().splitlines()
    assert {"lake/", ".rat/", "exports/"} <= set(ignored)
    settings = load_settings(root)
    assert settings.name == "lake1"
    assert not list((root / "landing").iterdir())


def test_init_demo_copies_sample_data_and_models(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "demo", demo=True)
    assert (root / "landing" / "orders").is_dir() and len(list((root / "landing" / "orders").glob("*.csv"))) >= 3
    assert list((root / "models" / "gold").glob("*.sql"))


def test_init_refuses_an_existing_workspace(tmp_path: Path) -> None:
    init_workspace(tmp_path / "w")
    with pytest.raises(WorkspaceError, match="already a rat workspace"):
        init_workspace(tmp_path / "w")


def test_find_walks_upward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = init_workspace(tmp_path / "w")
    deep = root / "models" / "gold"
    monkeypatch.chdir(deep)
    assert Workspace.find().root == root.resolve()


def test_find_without_workspace_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceError, match="rat init"):
        Workspace.find()
    with pytest.raises(WorkspaceError, match="no such folder"):
        Workspace.find(tmp_path / "missing")


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "w")
    (root / "rat.toml").write_text('name = "x"\nmemory_limit = \n')
    with pytest.raises(WorkspaceError) as err:
        load_settings(root)
    assert "rat.toml" in str(err.value) and "line 2" in str(err.value)


@pytest.mark.parametrize(
    ("line", "key"),
    [('memory_limit = "lots"', "memory_limit"), ("threads = 0", "threads"), ("name = 3", "name")],
)
def test_bad_settings_are_rejected(tmp_path: Path, line: str, key: str) -> None:
    root = init_workspace(tmp_path / "w")
    (root / "rat.toml").write_text(line + "\n")
    with pytest.raises(WorkspaceError, match=key):
        load_settings(root)


def test_memory_limit_default_is_half_of_ram(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "w")
    limit = load_settings(root).memory_limit
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert limit.endswith("MB") and abs(int(limit[:-2]) - total_mb // 2) <= 1


def test_writer_lock_is_exclusive(tmp_path: Path) -> None:
    ws = Workspace(init_workspace(tmp_path / "w"))
    with WriterLock(ws):
        with pytest.raises(Exception, match=f"pid {os.getpid()}"):
            WriterLock(ws).acquire()
    with WriterLock(ws):  # released: can be taken again
        pass


def test_every_setting_the_template_comments_is_valid_uncommented(tmp_path) -> None:
    """rat.toml as `rat init` writes it, with every commented setting switched on, loads."""
    import re

    from rat_tui.engine.workspace import init_workspace, load_settings

    root = tmp_path / "w"
    init_workspace(root)
    text = (root / "rat.toml").read_text(encoding="utf-8")
    on = re.sub(r"^# (\[[\w.]+\](?:\s+#.*)?|[a-z_]+ = .*)$", r"\1", text, flags=re.MULTILINE)
    assert on != text
    (root / "rat.toml").write_text(on, encoding="utf-8")
    settings = load_settings(root)
    assert settings.landing["erp"].columns["amount"].describe() == "decimal(12,2)"
    assert settings.watch_polling is False and settings.fetch_limit == 100000
