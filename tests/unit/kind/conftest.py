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
    assert argv[:2] == ["kubectl", "--context"]
    local_port = argv[-1].split(":")[0]
    return [sys.executable, "-c", LISTENER, local_port, "stand-in-for-kubectl-port-forward"]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
def runner() -> Iterator[RecordingRunner]:
    recording = RecordingRunner(stand_in=port_forward_stand_in)
    yield recording
    for started in recording.started:  # never leave a child behind, whatever the test did
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(started.pid, 0)
