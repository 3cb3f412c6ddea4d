"""`flightctl top --once` against the session's real platform: under a small load, a frame's
numbers equal the services' own /metrics (once Prometheus has scraped them); an unreachable
Prometheus is one line naming it while the rest of the frame is still shown."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from flightctl.platform.layout import free_port
from tests.conftest import Platform
from tests.integration.cli.conftest import Cli

PROBES = {"/metrics", "/health", "/ping"}


def samples(platform: Platform, service: str, name: str) -> list[tuple[dict[str, str], float]]:
    with platform.client(service) as client:
        body = client.get("/metrics").text
    return [(s.labels, s.value) for f in text_string_to_metric_families(body) for s in f.samples if s.name == name]


def from_metrics(platform: Platform) -> dict[str, Any]:
    """What a frame should show, read from the services' /metrics."""
    requests = sum(v for labels, v in samples(platform, "data-collector", "http_requests_total")
                   if labels["endpoint"] not in PROBES)  # fmt: skip
    alerts: dict[str, int] = defaultdict(int)
    for labels, v in samples(platform, "alert-system", "alerts_emitted_total"):
        alerts[labels["kind"]] += int(v)
    deliveries: dict[tuple[str, str], int] = defaultdict(int)
    for labels, v in samples(platform, "alert-notifier", "notifications_total"):
        deliveries[(labels["kind"], labels["status"])] += int(v)
    lag = {
        (labels["service"], labels["topic"]): int(v)
        for service in ("alert-system", "alert-notifier")
        for labels, v in samples(platform, service, "kafka_consumer_lag")
    }
    return {
        "requests": int(requests),
        "alerts": {k: v for k, v in alerts.items() if v},
        "deliveries": {k: v for k, v in deliveries.items() if v},
        "lag": lag,
    }


def from_frame(frame: dict[str, Any]) -> dict[str, Any]:
    (collector,) = [s for s in frame["services"] if s["service"] == "data-collector"]
    return {
        "requests": collector["requests"],
        "alerts": {r["kind"]: r["count"] for r in frame["last_hour"]["alerts"]},
        "deliveries": {(r["kind"], r["status"]): r["count"] for r in frame["last_hour"]["deliveries"]},
        "lag": {(r["service"], r["topic"]): r["lag"] for r in frame["kafka_lag"]},
    }


def test_a_frame_matches_the_services_metrics_under_load(cli: Cli, platform: Platform) -> None:
    with platform.client("data-collector") as dc:
        for i in range(30):  # a small load: answered 404s and 200s
            assert dc.get(f"/flights/last/ZQ{i % 10:02d}").status_code == 404
            assert dc.get(f"/interests/top-{i}@example.com").status_code == 200

    # Prometheus scrapes every few seconds: wait until a frame shows the latest scrape (each
    # frame's own /collector/status call is counted by the next scrape, so compare with the
    # /metrics read just before that frame).
    deadline, seen = time.monotonic() + 45, []
    while True:
        expected = from_metrics(platform)
        result = cli("top", "--once", "-o", "json")
        assert result.exit_code == 0, result.output
        frame = json.loads(result.stdout)
        assert frame["unreachable"] == []
        shown = from_frame(frame)
        seen.append(shown)
        if shown == expected:
            break
        assert time.monotonic() < deadline, f"no frame matched /metrics {expected}: {seen[-3:]}"
    assert shown["requests"] >= 60 and len(shown["lag"]) == 3
    (collector,) = [s for s in frame["services"] if s["service"] == "data-collector"]
    assert collector["healthy"] is True and collector["errors_5xx"] == 0
    assert collector["p95_ms"] is None or collector["p95_ms"] > 0
    assert all(s["healthy"] is True for s in frame["services"])
    assert frame["collector"]["credits"] and frame["collector"]["credits"][0].startswith("flights ")


def test_an_unreachable_prometheus_is_one_line_naming_it(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("top", "--once", "--prometheus", url)
    assert result.exit_code == 0, result.output
    assert f"unreachable: prometheus: unreachable at {url} (ConnectError" in result.stdout
    assert "data-collector" in result.stdout and "healthy" in result.stdout  # the rest of the frame
    assert "Traceback" not in result.output
    frame = json.loads(cli("top", "--once", "-o", "json", "--prometheus", url).stdout)
    assert [line.split(" (")[0] for line in frame["unreachable"]] == [f"prometheus: unreachable at {url}"]
    assert {s["service"]: s["healthy"] for s in frame["services"]}["user-manager"] is True


def test_the_live_view_needs_a_terminal(cli: Cli) -> None:
    result = cli("top")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: the live view needs a terminal: use --once (or -o json) in scripts"
