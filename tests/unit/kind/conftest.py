from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from flightctl.kind.runner import RecordingRunner
from flightctl.platform.layout import Home

# Stands in for `kubectl port-forward ... LOCAL:REMOTE`: listens on LOCAL until signalled.
LISTENER = (
    "import signal, socket, sys\n"
    "port = int(sys.argv[1])\n"
    "server = socket.socket()\n"
    "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "server.bind(('127.0.0.1', port))\n"
    "server.listen()\n"
    "signal.pause()\n"
)


def port_forward_stand_in(argv: Sequence[str]) -> list[str]:
    assert argv[0] == "kubectl" and "port-forward" in argv
    local_port = argv[-1].split(":")[0]
    return [sys.executable, "-c", LISTENER, local_port, "stand-in-for-kubectl-port-forward"]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
def runner() -> Iterator[RecordingRunner]:
    recording = RecordingRunner(programs={"docker", "kind", "kubectl", "ctr"}, stand_in=port_forward_stand_in)
    yield recording
    for started in recording.started:  # never leave a child behind, whatever the test did
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(started.pid, 0)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """A wheelhouse with a wheel (empty stand-in, the right file name) of every pinned
    distribution the images install, so builds plan and write their context offline."""
    from flightctl.deploy import images

    directory = tmp_path / "wheelhouse"
    directory.mkdir()
    for name, version in images.pins().items():
        (directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    return directory


@pytest.fixture(autouse=True)
def _hermetic_build_environment(monkeypatch: pytest.MonkeyPatch, wheelhouse: Path) -> None:
    """The builds use the test's wheelhouse and the plain docker, whatever the caller's shell set."""
    monkeypatch.setenv("FLIGHTCTL_WHEELHOUSE", str(wheelhouse))
    for variable in ("FLIGHTCTL_DOCKER", "FLIGHTCTL_PYTHON_IMAGE", "FLIGHTCTL_CONTEXT", "FLIGHTCTL_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
