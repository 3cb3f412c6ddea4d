"""flightctl as users get it: the sdist and wheel built from this repository, installed into a
fresh virtualenv outside the checkout (dependencies from the wheelhouse that `make bootstrap`
fills, so no network), run from an empty directory: `up --local`, `status`, `version`,
`smoke`, `down --local --purge`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flightctl.platform.layout import Ports, port_in_use
from tests.conftest import OPENSKY_ID, OPENSKY_SECRET, ROOT, TEST_PORT_BASE
from tests.fakes.opensky import FakeOpenSky
from tests.fakes.telegram import FakeTelegram

PORT_BASE = TEST_PORT_BASE + 100  # beside the session's platform and the interrupted-up test's
WHEELHOUSE = Path(os.environ.get("FLIGHTCTL_WHEELHOUSE") or Path.home() / ".cache" / "flightctl" / "wheelhouse")


@dataclass
class Installed:
    wheel: Path
    venv: Path
    workdir: Path
    env: dict[str, str]

    def flightctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "flightctl"), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _run(*argv: str, cwd: Path | None = None, timeout: float = 300) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """Its own fake OpenSky and Telegram: what this platform sends stays out of the session's."""
    with FakeOpenSky(client_id=OPENSKY_ID, client_secret=OPENSKY_SECRET) as opensky, FakeTelegram() as telegram:
        yield from _installed(opensky, telegram)


def _installed(opensky: FakeOpenSky, telegram: FakeTelegram) -> Iterator[Installed]:
    assert any(WHEELHOUSE.glob("*.whl")), f"no wheelhouse in {WHEELHOUSE}: run `make bootstrap`"
    # World-traversable, outside the checkout: the postgres user must reach the state under it.
    top = Path(tempfile.mkdtemp(prefix="flightctl-installed-", dir="/tmp"))
    top.chmod(0o755)
    dist = top / "dist"
    # The sdist first, then the wheel from it (python -m build): what is not in the sdist is
    # not in the wheel either.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT), timeout=300)
    (wheel,) = dist.glob("flightctl_platform-*.whl")
    venv = top / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    pip = str(venv / "bin" / "pip")
    _run(pip, "install", "-q", "--disable-pip-version-check", "--no-index", "--find-links", str(WHEELHOUSE), str(wheel))
    workdir = top / "work"
    workdir.mkdir()
    workdir.chmod(0o755)
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "FLIGHTCTL_PORT_BASE": str(PORT_BASE),
        "OPENSKY_API_URL": opensky.api_url,
        "OPENSKY_TOKEN_URL": opensky.token_url,
        "OPENSKY_CLIENT_ID": OPENSKY_ID,
        "OPENSKY_CLIENT_SECRET": OPENSKY_SECRET,
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "COLLECT_INTERVAL_SECONDS": "3600",
    }
    target = Installed(wheel=wheel, venv=venv, workdir=workdir, env=env)
    try:
        yield target
    finally:
        target.flightctl("down", "--local", "--purge")
        shutil.rmtree(top, ignore_errors=True)


def test_the_wheel_is_one_import_package_with_every_shipped_file(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"flightctl", "flightctl_platform-0.1.0.dist-info"}
    tracked = _run("git", "ls-files", "src/flightctl", cwd=ROOT).split()
    missing = [path for path in tracked if path.removeprefix("src/") not in names]
    assert tracked and not missing, f"files of src/flightctl that the wheel lacks: {missing}"

    shown = _run(str(installed.venv / "bin" / "pip"), "show", "-f", "flightctl-platform")
    files = [line.strip() for line in shown.split("Files:", 1)[1].splitlines() if line.strip()]
    tops = {path.split("/")[0] for path in files if not path.startswith("..")}
    assert tops == {"flightctl", "flightctl_platform-0.1.0.dist-info"}
    assert [path for path in files if path.startswith("..")] == ["../../../bin/flightctl"]


def test_installed_flightctl_runs_the_platform_from_an_empty_directory(installed: Installed) -> None:
    python = str(installed.venv / "bin" / "python")
    where = _run(python, "-c", "import flightctl; print(flightctl.__file__)", cwd=installed.workdir)
    assert where.startswith(str(installed.venv)), f"flightctl imported from {where}, not the fresh virtualenv"

    up = installed.flightctl("up", "--local", "--timeout", "240", timeout=600)
    assert up.returncode == 0, up.stderr
    home = installed.workdir / ".flightctl"
    assert home.is_dir(), "the state lives in ./.flightctl of the working directory"

    status = installed.flightctl("status", "-o", "json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["mode"] == "local"
    assert state["gateway"] == f"https://127.0.0.1:{Ports(PORT_BASE).gateway_https}"
    assert {name: info["healthy"] for name, info in state["services"].items()} == {
        name: True
        for name in ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")
    }
    # The services run on the fresh virtualenv's Python, from its site-packages.
    pid = json.loads((home / "run" / "user-manager.json").read_text())["pid"]
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert command[0].decode().startswith(str(installed.venv)), command

    # An upgrade replaces the installed modules: the next `up` restarts the services on them.
    module = Path(where.strip()).parent / "services" / "user_manager" / "service.py"
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1_000_000_000))
    again = installed.flightctl("up", "--local", "--timeout", "240", timeout=600)
    assert again.returncode == 0, again.stderr
    assert "user-manager: its configuration or code changed, restarting" in again.stderr
    restarted = json.loads((home / "run" / "user-manager.json").read_text())["pid"]
    assert restarted != pid

    version = installed.flightctl("version", "-o", "json")
    assert version.returncode == 0, version.stderr
    versions = json.loads(version.stdout)
    assert versions["flightctl"] == "0.1.0"
    assert versions["context"] == "local"
    assert set(versions["components"]) == {"postgresql", "kafka", "prometheus", "nginx"}
    assert all(info["version"] for info in versions["components"].values()), versions

    smoke = installed.flightctl("smoke", "-o", "json", timeout=300)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert json.loads(smoke.stdout)["ok"] is True

    down = installed.flightctl("down", "--local", "--purge")
    assert down.returncode == 0, down.stderr
    left = sorted(path.name for path in home.iterdir())
    assert not {"postgres", "kafka", "prometheus", "state.json", "logs", "certs"} & set(left), left
    held = [f"{name}:{port}" for name, port in Ports(PORT_BASE).all().items() if port_in_use(port)]
    assert not held, f"ports still held after down: {held}"


def test_the_installed_flightctl_makes_an_image_context_that_installs(installed: Installed) -> None:
    """`flightctl up --kind` builds the images from the context the installed package writes of
    itself; the Dockerfile's two pip steps, run here against the wheelhouse, install it."""
    context = installed.workdir.parent / "image-context"
    python = str(installed.venv / "bin" / "python")
    _run(python, "-c", "import sys, pathlib; from flightctl.deploy.images import write_context as w; "
         "w(pathlib.Path(sys.argv[1]))", str(context), cwd=installed.workdir)  # fmt: skip
    (made,) = (context / "dist").glob("*.whl")
    assert made.name == installed.wheel.name
    assert sorted((context / "Dockerfile").read_text().splitlines()) == sorted(
        (ROOT / "src" / "flightctl" / "deploy" / "Dockerfile").read_text().splitlines()
    )

    def package_files(wheel: Path) -> list[str]:
        return sorted(n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("flightctl/"))

    assert package_files(made) == package_files(installed.wheel)
    constraints = (context / "constraints.txt").read_text().split()
    installed_flask = _run(python, "-c", "from importlib.metadata import version; print(version('flask'))").strip()
    assert f"flask=={installed_flask}" in constraints
    assert not [c for c in constraints if c.startswith(("pytest", "mypy", "ruff", "flightctl"))], constraints

    image = installed.workdir.parent / "image-venv"
    _run(sys.executable, "-m", "venv", str(image))
    pip = [str(image / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    _run(*pip, "--no-index", "--find-links", str(WHEELHOUSE),
         "--constraint", str(context / "constraints.txt"), "-r", str(context / "requirements.txt"))  # fmt: skip
    _run(*pip, "--no-deps", "--no-index", str(made))
    _run(
        str(image / "bin" / "python"), "-c", "import flightctl.services.user_manager.app, flightctl.services.common.pb"
    )
