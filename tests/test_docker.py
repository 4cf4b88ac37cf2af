"""The real Docker image, built and run: the demo builds in a fresh /workspace, `/api/query`
answers on gold, the health check passes, a file dropped into the mounted landing/ reaches gold,
and the compose file's services run from the same image.

Slow (a Debian base made with debootstrap, every wheel built on the host, an image build), so it
runs when RAT_DOCKER=1; `.ci/run` runs it so after the suite, with Docker and debootstrap
installed. No registry is reachable here: the base image is made with `debootstrap
--variant=minbase bookworm` and `docker import`, and rat is installed from wheels built on the
host (`pip wheel`). Containers use the host's network and serve on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import wait_until, write

REPO = Path(__file__).parent.parent
BASE = "rat-test-base:bookworm"
IMAGE = "rat-test:latest"

pytestmark = pytest.mark.skipif(
    os.environ.get("RAT_DOCKER") != "1",
    reason="the Docker image test is slow: RAT_DOCKER=1 runs it (.ci/run does, after the suite)",
)


def sh(*args: str, timeout: float = 1800, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def base_image(tmp: Path) -> None:
    """A minimal Debian bookworm with python3 and venv, imported as BASE (kept between runs)."""
    if sh("docker", "image", "inspect", BASE, check=False).returncode == 0:
        return
    root = tmp / "rootfs"
    sh("debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm", str(root))
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    sh("docker", "import", "-", BASE, stdin=tar.stdout)
    assert tar.wait() == 0
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, float]]:
    if shutil.which("docker") is None or sh("docker", "info", check=False).returncode != 0:
        pytest.fail(
            "RAT_DOCKER=1 but no Docker daemon answers (apt-get install docker.io; dockerd --bridge=none --iptables=false)"
        )
    tmp = tmp_path_factory.mktemp("docker")
    base_image(tmp)
    context = tmp / "context"
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".wheels"
    )
    shutil.copytree(REPO, context, ignore=ignore)
    wheels = context / ".wheels"
    # rat's own wheel, then every dependency's as a wheel for the base's Python (bookworm's 3.11.2
    # is older than the host's: a package needing a newer patch release resolves to an older one).
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(context))
    version = sh(
        "docker",
        "run",
        "--rm",
        "--network",
        "host",
        BASE,
        "python3",
        "-c",
        "import platform; print(platform.python_version())",
    )
    platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (36, 28, 17, 5)] + ["--platform=linux_x86_64"]
    sh(
        sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", version.stdout.strip(),
        "--implementation", "cp", "--abi", "cp311", *platforms, "-d", str(wheels), "--find-links", str(wheels),
        "rat-tui[notebook]",
    )  # fmt: skip
    started = time.monotonic()
    sh("docker", "build", "-q", "--network", "host", "--build-arg", f"BASE={BASE}", "-t", IMAGE, str(context))
    built = time.monotonic() - started
    size = int(sh("docker", "image", "inspect", IMAGE, "--format", "{{.Size}}").stdout.strip())
    yield {"build_seconds": built, "size_bytes": size}


PROCESSES = "import glob; print(any(b'rat_tui' in open(p, 'rb').read() for p in glob.glob('/proc/[0-9]*/cmdline')))"


def workbench_running(project: Path, env: dict[str, str]) -> bool:
    """The browser's workbench (`python -m rat_tui`) runs in the serve service."""
    found = sh(
        "docker-compose",
        "-p",
        "rattest",
        "exec",
        "-T",
        "serve",
        "python3",
        "-c",
        PROCESSES,
        cwd=project,
        env=env,
        check=False,
    )
    return found.stdout.strip() == "True"


def container_health(name: str) -> str:
    return sh("docker", "inspect", name, "--format", "{{.State.Health.Status}}", check=False).stdout.strip()


def test_the_image_builds_the_demo_serves_it_and_ingests_a_drop(image: dict[str, float], tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    os.chown(workspace, 1000, 1000)  # the image's user, rat (uid 1000), not root
    port = "8653"
    names = ["rat-test-watch", "rat-test-serve"]
    for name in names:
        sh("docker", "rm", "-f", name, check=False)
    try:
        started = time.monotonic()
        common = ["--network", "host", "-v", f"{workspace}:/workspace", "-e", f"RAT_PORT={port}"]
        # `rat` is the entrypoint: the container's command is a rat command. The fresh folder gets
        # the demo, built, as compose's init service does.
        demo = sh("docker", "run", "--rm", *common, IMAGE, "demo", "-w", "/workspace")
        assert "8 models built" in demo.stderr, demo.stderr
        sh("docker", "run", "-d", "--name", "rat-test-watch", *common, "--no-healthcheck", IMAGE, "watch")
        sh("docker", "run", "-d", "--name", "rat-test-serve", *common, IMAGE, "serve", "--port", port)
        wait_until(lambda: container_health("rat-test-serve") == "healthy", timeout=180, what="a healthy container")
        healthy = time.monotonic() - started
        base = f"http://127.0.0.1:{port}"
        answer = httpx.post(
            f"{base}/api/query", json={"sql": "select count(*) as days from gold.daily_revenue"}, timeout=30
        )
        assert answer.status_code == 200 and answer.json() == [{"days": 182}]
        assert httpx.post(f"{base}/api/query", json={"sql": "drop table gold.daily_revenue"}).status_code == 403
        # Beyond loopback without a token, rat serve refuses to start (one line, no traceback).
        bare = sh(
            "docker", "run", "--rm", *common, "--no-healthcheck", IMAGE, "serve", "--host", "0.0.0.0", check=False
        )
        assert bare.returncode != 0 and bare.stderr.startswith("rat: error: rat serve on 0.0.0.0"), bare.stderr
        assert "Traceback" not in bare.stderr
        # Nothing runs as root, and the demo belongs to the image's user.
        assert sh("docker", "exec", "rat-test-serve", "id", "-u").stdout.strip() == "1000"
        assert (workspace / "rat.toml").stat().st_uid == 1000
        # A file dropped into the mounted landing/ reaches gold through the container's rat watch.
        write(
            workspace / "landing" / "orders" / "2024-07.csv",
            "order_id,cust_id,order_date,status,ship_country,channel,amount\nSO-2407001,C0001,01/07/2024,paid,FR,web,120.00\n",
        )

        def reached_gold() -> bool:
            sql = "select count(*) as n from gold.daily_revenue where order_date = '2024-07-01'"
            return httpx.post(f"{base}/api/query", json={"sql": sql}, timeout=30).json() == [{"n": 1}]

        wait_until(reached_gold, timeout=60, what="the dropped file to reach gold")
        page = httpx.get(f"{base}/workbench/", timeout=30)
        assert page.status_code == 200 and "/workbench/ws" in page.text
        print(
            json.dumps(
                {
                    "image_mb": round(image["size_bytes"] / 2**20),
                    "build_s": round(image["build_seconds"], 1),
                    "run_to_healthy_s": round(healthy, 1),
                }
            )
        )
    finally:
        logs = {n: sh("docker", "logs", n, check=False).stderr[-2000:] for n in names}
        for name in names:
            sh("docker", "rm", "-f", name, check=False)
    assert all("Traceback" not in text for text in logs.values()), logs


def test_docker_compose_up_serves_the_demo_and_the_guided_notebook(image: dict[str, float], tmp_path: Path) -> None:
    """`docker-compose up` with the repository's docker-compose.yml, on a fresh folder, with the
    image built above (tagged as the file names it; no registry here to build its default base)."""
    compose = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert "/var/run/docker.sock" not in compose and "privileged" not in compose
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "docker-compose.yml", project / "docker-compose.yml")
    (project / "workspace").mkdir()
    os.chown(project / "workspace", 1000, 1000)
    sh("docker", "tag", IMAGE, "rat:latest")
    env = {**os.environ, "RAT_PORT": "8656", "JUPYTER_PORT": "8894"}
    up = ["docker-compose", "-p", "rattest", "up", "-d", "--no-build"]
    try:
        sh(*up, cwd=project, env=env, timeout=300)
        base = "http://127.0.0.1:8656"

        def healthy() -> bool:
            try:
                return httpx.post(
                    f"{base}/api/query", json={"sql": "select count(*) as n from gold.daily_revenue"}
                ).json() == [{"n": 182}]
            except (httpx.HTTPError, ValueError):
                return False

        wait_until(healthy, timeout=180, what="compose's rat serve answering on gold")
        ps = sh("docker-compose", "-p", "rattest", "ps", cwd=project, env=env).stdout
        assert ps.count("Up") == 3 and "Exit 0" in ps, ps  # init made the demo and exited
        for service in ("watch", "serve", "notebook"):  # none of them as root
            uid = sh("docker-compose", "-p", "rattest", "exec", "-T", service, "id", "-u", cwd=project, env=env)
            assert uid.stdout.strip() == "1000", service

        def lab_up() -> bool:
            try:
                return httpx.get("http://127.0.0.1:8894/lab", timeout=2).status_code in (200, 302, 401, 403)
            except httpx.HTTPError:
                return False

        wait_until(lab_up, timeout=180, what="JupyterLab")
        assert (project / "workspace" / "notebooks" / "guided_tour.ipynb").is_file()
        # The guided notebook runs in the notebook service's kernel, beside the watcher.
        run = sh(
            "docker-compose", "-p", "rattest", "exec", "-T", "-w", "/workspace/notebooks", "notebook",
            "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "/tmp/tour.ipynb", "guided_tour.ipynb",
            cwd=project, env=env, timeout=600,
        )  # fmt: skip
        assert "Traceback" not in run.stderr
        executed = json.loads(
            sh(
                "docker-compose",
                "-p",
                "rattest",
                "exec",
                "-T",
                "notebook",
                "cat",
                "/tmp/tour.ipynb",
                cwd=project,
                env=env,
            ).stdout
        )
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, errors
        # The workbench in a browser, from the serve service (a viewer: the watcher writes).
        from browser import query_in_browser

        query_in_browser(
            "http://127.0.0.1:8656/workbench/",
            project / "workspace" / ".rat" / "state.sqlite",
            lambda: (
                "GET /workbench/ 200"
                in sh("docker-compose", "-p", "rattest", "logs", "serve", cwd=project, env=env).stdout
            ),
            tmp_path / "workbench.png",
        )
        drop = next(c for c in executed["cells"] if "drop" in c["metadata"].get("tags", []))
        printed = "".join("".join(o.get("text", "")) for o in drop["outputs"])  # a string, or a list of lines
        # With rat watch running, the notebook's run is handed to it, and gold has July.
        assert printed.startswith("ok | last day 2024-06-30 -> 2024-07-02"), printed
    finally:
        logs = sh("docker-compose", "-p", "rattest", "logs", "--no-color", cwd=project, env=env, check=False).stdout
        sh("docker-compose", "-p", "rattest", "down", "-t", "20", cwd=project, env=env, check=False)
    assert "Traceback" not in logs, logs[-3000:]
