"""Ctrl-C during `flightctl up --local`: exit 130, and what that run had started is stopped
again (no half-started platform, no port held)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from flightctl.local import postgres
from flightctl.platform.layout import Home, Ports, port_in_use
from flightctl.platform.proc import wait_until
from tests.conftest import FLIGHTCTL, TEST_PORT_BASE

PORT_BASE = TEST_PORT_BASE + 50  # beside the session's platform


def test_ctrl_c_during_up_stops_what_it_started() -> None:
    home = Path(tempfile.mkdtemp(prefix="flightctl-interrupt-", dir="/tmp"))
    home.chmod(0o755)  # the postgres user must traverse it
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENSKY_", "TELEGRAM_", "FLIGHTCTL_"))},
        "FLIGHTCTL_HOME": str(home),
        "FLIGHTCTL_PORT_BASE": str(PORT_BASE),
    }
    try:
        up = subprocess.Popen(
            [*FLIGHTCTL, "up", "--local"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        kafka_pid_file = home / "run" / "kafka.json"
        assert wait_until(lambda: kafka_pid_file.exists() or up.poll() is not None, 120), "kafka never started"
        assert up.poll() is None, up.communicate()[1]
        up.send_signal(signal.SIGINT)
        _out, err = up.communicate(timeout=120)

        assert up.returncode == 130, err
        assert "interrupted: stopping what this run started: " in err and err.rstrip().endswith("interrupted")
        assert not postgres.running(Home(home))
        assert not list((home / "run").glob("*.json")), "a pid file (a process) was left behind"
        held = [f"{name}:{port}" for name, port in Ports(PORT_BASE).all().items() if port_in_use(port)]
        assert not held, f"ports still held: {held}"
    finally:
        subprocess.run([*FLIGHTCTL, "down", "--local", "--purge"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
