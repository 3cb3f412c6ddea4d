"""`flightctl top` on the kind context, with the RecordingRunner behind kubectl: Prometheus is
reached through a port-forward that top starts (and keeps, like `port-forward start`), and what
does not answer (this Prometheus stand-in never speaks HTTP, the gateway is not there) is one
line each, the frame still made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flightctl.kind import layout, portforward
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.platform.layout import SERVICES, Home

from .test_cli import invoke

DEPLOYMENTS = {
    "items": [
        {"metadata": {"name": name}, "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
        for name in (*SERVICES, "prometheus")
    ]
}


def test_top_forwards_prometheus_and_names_what_does_not_answer(
    home: Home, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLIGHTCTL_PROMETHEUS_URL", raising=False)
    runner.script[("kubectl",)] = Completed(0, json.dumps(DEPLOYMENTS))
    code, out, err = invoke(Path(home.root), "--context", "kind", "top", "--once", "-o", "json", runner=runner)
    assert code == 0, err
    forward = portforward.active(home, "prometheus")
    assert forward is not None and f"Prometheus forwarded to {forward.url}" in err
    assert any(call[-2:] == ["svc/prometheus", f"{forward.port}:9090"] for call in runner.calls)
    frame = json.loads(out)
    assert frame["context"] == "kind" and frame["prometheus"] == forward.url
    assert {s["service"]: s["healthy"] for s in frame["services"]} == dict.fromkeys(SERVICES, True)
    (prometheus_line,) = [line for line in frame["unreachable"] if line.startswith("prometheus: ")]
    assert f"unreachable at {forward.url}" in prometheus_line
    assert any(line.startswith("data-collector: ") for line in frame["unreachable"])  # no gateway here
    assert (layout.forwards_dir(home) / "prometheus.json").exists()  # kept for the next frame or run
