"""The real detector process against a real Prometheus that scrapes gauges this test sets, and
the platform's real Kafka: breaches per series, no data, NaN, the live T_scrape rule, and
Prometheus going away."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flightctl.platform.proc import wait_until
from tests.integration.sla_breach_detector.lab import BreachReader, Lab


def test_three_out_of_range_samples_publish_one_breach_per_series(lab: Lab, breaches: BreachReader) -> None:
    t_check = lab.config["settings"]["t_check"]
    # All three series in range first, and the detector has seen them.
    assert wait_until(lambda: lab.detector.stats()[lab.gauge]["last_value"] == 15, 20)
    errors_before = lab.detector.stats()[lab.gauge]["errors"]
    lab.exporter.set("sla_lab_gauge", 50, series="a")  # above max (20): high
    lab.exporter.set("sla_lab_gauge", 1, series="b")  # below min (10): low
    # series c stays at 15.

    def by_series() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for event in breaches.of(lab.gauge):
            found.setdefault(event["labels"]["series"], []).append(event)
        return found

    def two_each() -> bool:
        breaches.poll()
        found = by_series()
        return len(found.get("a", [])) >= 2 and len(found.get("b", [])) >= 2

    # Left out of range, each series breaches every 3 checks: after a breach its history
    # starts again, so the next one needs 3 new samples (never 1 per check).
    assert wait_until(two_each, 30)
    lab.exporter.set("sla_lab_gauge", 15, series="a")
    lab.exporter.set("sla_lab_gauge", 15, series="b")

    found = by_series()
    assert set(found) == {"a", "b"}  # series c, in range, never breached
    keys = {key for key, value in breaches.events if value.get("metric") == lab.gauge}
    assert keys == {lab.gauge}  # keyed by metric name
    for series, kind, observed, threshold in (("a", "high", 50, 20), ("b", "low", 1, 10)):
        first, second = found[series][:2]
        assert set(first) == {
            "event_id",
            "timestamp",
            "metric",
            "query",
            "observed_value",
            "threshold_violated",
            "breach_type",
            "violations_count",
            "labels",
        }
        uuid.UUID(first["event_id"])
        assert first["metric"] == lab.gauge
        assert first["query"] == "sla_lab_gauge"
        assert first["breach_type"] == kind
        assert first["observed_value"] == observed
        assert first["threshold_violated"] == threshold
        assert first["violations_count"] == 3
        assert first["labels"]["job"] == "lab"
        assert second["violations_count"] == 3  # not 4: the window was cleared by the first
        assert second["event_id"] != first["event_id"]
        gap = datetime.fromisoformat(second["timestamp"]) - datetime.fromisoformat(first["timestamp"])
        assert gap.total_seconds() >= 2.5 * t_check  # three checks apart
        assert datetime.fromisoformat(first["timestamp"]).utcoffset() is not None

    # The detector counts a breach once it is published: the count may trail the event by a moment.
    def counted() -> bool:
        stats = lab.detector.stats()[lab.gauge]
        return bool(stats["high_breaches"] >= 2 and stats["low_breaches"] >= 2)

    assert wait_until(counted, 10)
    stats = lab.detector.stats()[lab.gauge]
    assert stats["errors"] == errors_before
    datetime.fromisoformat(stats["last_check"])


def test_no_series_and_nan_are_no_data_never_a_breach(lab: Lab, breaches: BreachReader) -> None:
    before = lab.detector.stats()
    lab.detector.wait_checks(3)
    stats = lab.detector.stats()
    for name in (lab.nan, lab.absent):
        assert stats[name]["no_data"] >= before[name]["no_data"] + 3
        assert stats[name]["last_value"] is None
        assert (stats[name]["low_breaches"], stats[name]["high_breaches"]) == (0, 0)
        assert stats[name]["errors"] == before[name]["errors"]  # no data is not a failure
    breaches.poll()
    assert breaches.of(lab.nan) == [] and breaches.of(lab.absent) == []
    assert lab.detector.alive()


def test_t_check_is_checked_against_the_live_scrape_interval(lab: Lab) -> None:
    # This Prometheus scrapes every 200 ms: t_check must be at least 1 s.
    too_fast = {**lab.config, "settings": {"t_check": 0.5}}
    response = lab.detector.http.post("/sla/config", json=too_fast)
    assert response.status_code == 400
    assert response.json()["error"] == (
        "settings.t_check >= 5 * T_scrape is violated: t_check is 0.5s but Prometheus scrapes "
        "every 0.2s, so t_check must be at least 1s"
    )
    assert lab.detector.http.get("/sla/config").json() == lab.config


def test_a_slow_query_never_delays_the_checks_of_the_others(lab: Lab) -> None:
    slow_name = f"lab_slow_{lab.run}"
    slow_query = 'sla_lab_gauge{series="c"}'
    config = {
        **lab.config,
        "metrics": [
            *lab.config["metrics"],
            {"name": slow_name, "type": "gauge", "query": slow_query, "min": 0, "max": 100},
        ],
    }
    gate = lab.proxy.hold(slow_query)
    try:
        assert lab.detector.http.post("/sla/config", json=config).status_code == 200
        assert wait_until(lambda: lab.proxy.asked.get(slow_query, 0) >= 1, 10)
        before = lab.detector.stats()
        # Three checks in about three intervals although one query never answers.
        lab.detector.wait_checks(3, timeout=3 * lab.config["settings"]["t_check"] + 3)
        stats = lab.detector.stats()
        assert stats[slow_name]["errors"] >= before[slow_name]["errors"] + 3
        assert stats[slow_name]["last_value"] is None
        assert stats[lab.gauge]["last_check"] > before[lab.gauge]["last_check"]
        assert stats[lab.gauge]["errors"] == before[lab.gauge]["errors"]
        assert lab.detector.health_status() == 200
        gate.set()
        # Answered at last: the next checks query it again and see its value.
        assert wait_until(lambda: lab.detector.stats()[slow_name]["last_value"] == 15, 10)
    finally:
        lab.proxy.release_all()
        restored = lab.detector.http.post("/sla/config", json=lab.config)
        assert restored.status_code == 200, restored.text


def test_prometheus_down_is_503_and_the_detector_keeps_going(lab: Lab, breaches: BreachReader) -> None:
    errors_before = lab.detector.stats()[lab.gauge]["errors"]
    lab.prometheus.stop()
    try:
        assert wait_until(lambda: lab.detector.health_status() == 503, 20)
        health = lab.detector.http.get("/health").json()
        assert health["status"] == "down"
        assert health["checks"]["prometheus"] != "ok"
        assert health["checks"]["scheduler"] == "ok"
        assert "prometheus" in health["error"]
        # Checks go on and count the failures; nothing is published; the process lives.
        assert wait_until(lambda: lab.detector.stats()[lab.gauge]["errors"] >= errors_before + 2, 20)
        assert lab.detector.http.get("/ping").json() == {"message": "pong"}
        # The Prometheus rule cannot be checked: 503, not a 400 and not a crash.
        response = lab.detector.http.post("/sla/config", json=lab.config)
        assert response.status_code == 503 and "T_scrape" in response.json()["error"]
        breaches.poll()
        assert breaches.of(lab.gauge) == []
        assert lab.detector.alive()
    finally:
        lab.prometheus.start()
    assert wait_until(lambda: lab.detector.health_status() == 200, 20)
