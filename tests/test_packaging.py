"""workspace_template/ and sample_data/ live at the top of the repository and reach users inside the
package, from a wheel as from an editable install (`pip install -e .`, what the suite runs on)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
MAPPED = {"rat_tui.workspace_template": "workspace_template", "rat_tui.sample_data": "sample_data"}


def test_every_package_is_listed_for_the_wheel() -> None:
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "rat_tui").rglob("__init__.py")} | set(MAPPED)
    assert packages == found, f"pyproject.toml's packages differ from the code's: {packages ^ found}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == MAPPED


def test_the_installed_package_reads_the_top_level_folders() -> None:
    template = resources.files("rat_tui.workspace_template")
    assert (template / "rat.toml").is_file() and (template / "gitignore.template").is_file()
    sample = resources.files("rat_tui.sample_data")
    assert (sample / "landing" / "orders" / "2024-01.csv").is_file()
    assert (sample / "models" / "gold" / "daily_revenue.sql").is_file()
    import rat_tui

    if Path(rat_tui.__file__).resolve().parent == REPO / "rat_tui":  # editable, as the README installs
        assert Path(str(template)).resolve() == REPO / "workspace_template"


def test_a_wheel_carries_the_template_and_the_demo(tmp_path: Path) -> None:
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("rat_tui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(Path("rat_tui") / f.relative_to(REPO))
        for folder in MAPPED.values()
        for f in (REPO / folder).rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    }
    assert expected and expected <= names, sorted(expected - names)[:5]
    # Installed from the wheel alone, a new workspace gets the template.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "from importlib import resources; import rat_tui; "
        "print(rat_tui.__file__); print((resources.files('rat_tui.workspace_template') / 'rat.toml').read_text()[:40])"
    )
    shown = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert str(target) in shown.stdout and "rat" in shown.stdout.splitlines()[1]
