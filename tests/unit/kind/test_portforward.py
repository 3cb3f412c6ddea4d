"""port-forward start/list/stop, tracked by pid, with a listening Python child standing in
for `kubectl port-forward`."""

from __future__ import annotations

import json
import os
import sys

import pytest

from flightctl.errors import FlightctlError, UsageError
from flightctl.kind import endpoints, layout, portforward
from flightctl.kind.runner import RecordingRunner
from flightctl.platform import proc
from flightctl.platform.layout import Home, port_in_use


def test_start_records_the_pid_and_waits_for_the_port(home: Home, runner: RecordingRunner) -> None:
    forward = portforward.start(home, runner, "user-manager")
    assert runner.calls == [portforward.command("user-manager", forward.port)]
    assert runner.calls[0][-2:] == ["svc/user-manager", f"{forward.port}:8080"]
    assert port_in_use(forward.port)
    record = json.loads((layout.forwards_dir(home) / "user-manager.json").read_text())
    assert record["pid"] == forward.pid and record["port"] == forward.port
    assert proc.alive(forward.pid, record["match"])

    assert portforward.listing(home) == [forward]
    assert portforward.active(home, "user-manager") == forward
    assert endpoints.service_url(home, "user-manager") == f"http://127.0.0.1:{forward.port}"
    # Starting again keeps the running forward.
    assert portforward.start(home, runner, "user-manager") == forward
    assert len(runner.calls) == 1

    assert portforward.stop(home, "user-manager") is True
    assert not proc.alive(forward.pid)
    assert portforward.listing(home) == []
    assert endpoints.service_url(home, "user-manager") == "https://127.0.0.1/user-manager"
    assert portforward.stop(home, "user-manager") is False


def test_a_dead_process_is_not_an_active_forward(home: Home, runner: RecordingRunner) -> None:
    forward = portforward.start(home, runner, "prometheus", portforward.free_port())
    os.kill(forward.pid, 9)
    os.waitpid(forward.pid, 0)
    assert portforward.active(home, "prometheus") is None
    assert not (layout.forwards_dir(home) / "prometheus.json").exists(), "the stale record is removed"


def test_a_forward_that_exits_is_reported_with_its_log(home: Home) -> None:
    def failing(argv: list[str]) -> list[str]:
        return [sys.executable, "-c", "import sys; print('error: no service user-manager'); sys.exit(1)", "x"]

    runner = RecordingRunner(stand_in=failing)  # type: ignore[arg-type]
    with pytest.raises(FlightctlError, match="no service user-manager"):
        portforward.start(home, runner, "user-manager", timeout=10)
    assert portforward.listing(home) == []


def test_only_known_services_and_free_ports(home: Home, runner: RecordingRunner) -> None:
    with pytest.raises(UsageError, match="cannot forward 'postgres'"):
        portforward.start(home, runner, "postgres")
    first = portforward.start(home, runner, "alert-system")
    with pytest.raises(UsageError, match="already in use"):
        portforward.start(home, runner, "alert-notifier", first.port)
    with pytest.raises(UsageError, match="already forwarded"):
        portforward.start(home, runner, "alert-system", portforward.free_port())
    assert portforward.stop_all(home) == ["alert-system"]
