"""One check end to end with a fake Prometheus query and a fake publisher."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from flightctl.platform.proc import wait_until
from flightctl.services.sla_breach_detector.config import MetricRule, SlaConfig
from flightctl.services.sla_breach_detector.metrics import SlaMetrics
from flightctl.services.sla_breach_detector.prometheus import PrometheusError, Sample
from flightctl.services.sla_breach_detector.sampler import BreachStats, Sampler
from flightctl.services.sla_breach_detector.window import BreachWindows

LATENCY = MetricRule(name="latency", type="gauge", query="q_latency", min=0, max=1.0)
FREE = MetricRule(name="free_ratio", type="gauge", query="q_free", min=0.2, max=1.0)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FakePrometheus:
    """Answers each query from a script: a list of samples, or an exception to raise."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Sample] | Exception] = {}
        self.asked: list[str] = []
        self.hold: dict[str, threading.Event] = {}  # queries that wait until their event is set
        self._lock = threading.Lock()

    def __call__(self, promql: str) -> list[Sample]:
        with self._lock:
            self.asked.append(promql)
        if promql in self.hold:
            self.hold[promql].wait(timeout=30)
        answer = self.answers.get(promql, [])
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: Exception | None = None

    def __call__(self, events: Sequence[dict[str, Any]]) -> int:
        if self.fail is not None:
            raise self.fail
        self.sent.extend(events)
        return len(events)


class Steps:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=30)
        return self.now


class Harness:
    def __init__(self, *rules: MetricRule, query_deadline: float = 6.0, t_check: float = 30) -> None:
        self.config = SlaConfig(metrics=rules, t_check=t_check, extra_settings={})
        self.prometheus = FakePrometheus()
        self.publisher = FakePublisher()
        self.registry = CollectorRegistry()
        self.stats = BreachStats()
        self.clock = 0.0
        self.ids = iter(uuid.UUID(int=i) for i in range(1, 1000))
        self.sampler = Sampler(
            config=lambda: self.config,
            query=self.prometheus,
            publish=self.publisher,
            windows=BreachWindows(lambda: self.clock),
            stats=self.stats,
            metrics=SlaMetrics(self.registry),
            now=Steps(),
            new_id=lambda: next(self.ids),
            timer=lambda: self.clock,
            query_deadline=query_deadline,
        )

    def answer(self, rule: MetricRule, *values: float, labels: dict[str, str] | None = None) -> None:
        self.prometheus.answers[rule.query] = [Sample(labels or {}, v) for v in values]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness(LATENCY, FREE)
    yield harness
    harness.sampler.close()


def test_every_metric_is_queried_and_recorded(h: Harness) -> None:
    h.answer(LATENCY, 0.3)
    h.answer(FREE, 0.5)
    result = h.sampler.run_check()
    assert sorted(h.prometheus.asked) == ["q_free", "q_latency"]
    assert [(o.metric, o.samples) for o in result.outcomes] == [("latency", 1), ("free_ratio", 1)]
    stats = h.stats.snapshot()
    assert stats["latency"] == {
        "low_breaches": 0,
        "high_breaches": 0,
        "last_value": 0.3,
        "last_check": "2026-01-01T00:00:30+00:00",
        "no_data": 0,
        "errors": 0,
    }
    assert h.metric("sla_checks_total") == 1
    assert h.metric("sla_query_duration_seconds_count", metric="latency") == 1
    assert h.publisher.sent == []


def test_three_high_samples_publish_one_breach_with_the_spec_fields(h: Harness) -> None:
    for value in (1.5, 0.2, 2.0, 3.0):
        h.answer(LATENCY, value, labels={"service": "user-manager"})
        result = h.sampler.run_check()
    assert len(h.publisher.sent) == 1
    assert h.publisher.sent[0] == {
        "event_id": str(uuid.UUID(int=1)),
        "timestamp": "2026-01-01T00:02:00+00:00",
        "metric": "latency",
        "query": "q_latency",
        "observed_value": 3.0,
        "threshold_violated": 1.0,
        "breach_type": "high",
        "violations_count": 3,
        "labels": {"service": "user-manager"},
    }
    assert result.breaches == h.publisher.sent
    assert h.stats.snapshot()["latency"]["high_breaches"] == 1
    assert h.metric("sla_breaches_total", metric="latency", breach_type="high") == 1


def test_the_series_starts_again_after_a_breach(h: Harness) -> None:
    h.answer(FREE, 0.1)
    for _ in range(3):
        h.sampler.run_check()
    assert [m["breach_type"] for m in h.publisher.sent] == ["low"]
    h.sampler.run_check()
    h.sampler.run_check()
    assert len(h.publisher.sent) == 1  # two new samples are not enough
    h.sampler.run_check()
    assert len(h.publisher.sent) == 2
    assert h.stats.snapshot()["free_ratio"]["low_breaches"] == 2


def test_a_failed_publish_keeps_the_history_and_retries_next_check(h: Harness) -> None:
    h.answer(LATENCY, 5.0)
    h.sampler.run_check()
    h.sampler.run_check()
    h.publisher.fail = RuntimeError("broker down")
    result = h.sampler.run_check()
    assert not result.published and result.publish_error == "broker down"
    assert h.stats.snapshot()["latency"]["high_breaches"] == 0
    assert h.metric("sla_publish_failures_total") == 1
    h.publisher.fail = None
    h.sampler.run_check()
    assert [m["violations_count"] for m in h.publisher.sent] == [4]
    assert h.stats.snapshot()["latency"]["high_breaches"] == 1


def test_an_empty_result_is_no_data_never_a_breach(h: Harness) -> None:
    h.answer(FREE)  # empty vector; FREE's min would be violated by any zero
    for _ in range(5):
        result = h.sampler.run_check()
    assert result.outcomes[1].no_data
    assert h.publisher.sent == []
    assert h.stats.snapshot()["free_ratio"]["no_data"] == 5
    assert h.stats.snapshot()["free_ratio"]["last_value"] is None
    assert h.metric("sla_no_data_total", metric="free_ratio") == 5


def test_nan_and_inf_are_no_data(h: Harness) -> None:
    h.answer(LATENCY, math.nan, math.inf)
    for _ in range(4):
        h.sampler.run_check()
    assert h.publisher.sent == []
    assert h.stats.snapshot()["latency"]["no_data"] == 4


def test_nan_in_one_series_does_not_hide_the_others(h: Harness) -> None:
    h.prometheus.answers["q_latency"] = [Sample({"s": "a"}, math.nan), Sample({"s": "b"}, 9.0)]
    for _ in range(3):
        h.sampler.run_check()
    assert [m["labels"] for m in h.publisher.sent] == [{"s": "b"}]


def test_a_failed_query_is_an_error_not_a_breach_and_others_go_on(h: Harness) -> None:
    h.prometheus.answers["q_latency"] = PrometheusError("no answer from Prometheus within 5s")
    h.answer(FREE, 0.0)
    for _ in range(3):
        result = h.sampler.run_check()
    assert result.outcomes[0].error == "no answer from Prometheus within 5s"
    stats = h.stats.snapshot()
    assert stats["latency"]["errors"] == 3 and stats["latency"]["last_check"] is not None
    assert h.metric("sla_query_errors_total", metric="latency") == 3
    assert [m["metric"] for m in h.publisher.sent] == ["free_ratio"]


def test_an_unexpected_query_failure_is_counted_too(h: Harness) -> None:
    h.prometheus.answers["q_latency"] = KeyError("bug")
    h.sampler.run_check()
    assert h.stats.snapshot()["latency"]["errors"] == 1


def test_several_series_are_evaluated_separately(h: Harness) -> None:
    for a_value in (5.0, 5.0, 0.1):
        h.prometheus.answers["q_latency"] = [Sample({"service": "a"}, a_value), Sample({"service": "b"}, 5.0)]
        h.sampler.run_check()
    assert [m["labels"] for m in h.publisher.sent] == [{"service": "b"}]
    assert h.stats.snapshot()["latency"]["last_value"] == 5.0  # the largest series


def test_a_scalar_result_has_empty_labels(h: Harness) -> None:
    h.answer(LATENCY, 2.0)
    for _ in range(3):
        h.sampler.run_check()
    assert h.publisher.sent[0]["labels"] == {}


def test_a_new_config_applies_from_the_next_check(h: Harness) -> None:
    h.answer(LATENCY, 0.5)
    h.sampler.run_check()
    h.sampler.run_check()
    stricter = MetricRule(name="latency", type="gauge", query="q_latency", min=0, max=0.4)
    h.config = SlaConfig(metrics=(stricter,), t_check=30, extra_settings={})
    h.sampler.run_check()
    assert [m["threshold_violated"] for m in h.publisher.sent] == [0.4]
    stats = h.stats.snapshot()
    assert set(stats) == {"latency"}  # free_ratio left the config, and the statistics
    assert stats["latency"]["high_breaches"] == 1  # a metric kept by name keeps its counts


def test_a_replaced_config_drops_the_removed_metrics_from_the_stats() -> None:
    stats = BreachStats()
    stats.track(SlaConfig(metrics=(LATENCY, FREE), t_check=30, extra_settings={}))
    stats.record("free_ratio", checked_at="2026-01-01T00:00:00+00:00", value=0.1)
    stats.record_breach("free_ratio", "low")
    stats.track(SlaConfig(metrics=(LATENCY,), t_check=30, extra_settings={}))
    assert set(stats.snapshot()) == {"latency"}
    # A check that started under the old config finishes late: it does not bring the metric back.
    stats.record("free_ratio", checked_at="2026-01-01T00:00:30+00:00", value=0.1)
    stats.record_breach("free_ratio", "low")
    assert set(stats.snapshot()) == {"latency"}


def test_stats_list_configured_metrics_before_the_first_check() -> None:
    stats = BreachStats()
    stats.track(SlaConfig(metrics=(LATENCY,), t_check=30, extra_settings={}))
    assert stats.snapshot()["latency"]["last_check"] is None


def test_a_slow_query_is_abandoned_at_the_deadline_and_the_others_are_judged() -> None:
    h = Harness(LATENCY, FREE, query_deadline=0.05)
    release = h.prometheus.hold["q_latency"] = threading.Event()
    try:
        h.answer(LATENCY, 9.0)
        h.answer(FREE, 0.0)
        outcomes = []
        for _ in range(3):
            started = time.monotonic()
            result = h.sampler.run_check()
            assert time.monotonic() - started < 5  # bounded by the deadline, not by the query
            outcomes.append(result.outcomes[0])
        assert [o.error for o in outcomes] == [
            "no answer within 0.05s (the query was abandoned for this check)",
            "the previous query of this metric is still running",  # not a second thread
            "the previous query of this metric is still running",
        ]
        assert h.prometheus.asked.count("q_latency") == 1
        assert h.sampler.in_flight() == 1
        stats = h.stats.snapshot()
        assert stats["latency"]["errors"] == 3 and stats["latency"]["high_breaches"] == 0
        assert [m["metric"] for m in h.publisher.sent] == ["free_ratio"]  # the fast one went on
    finally:
        release.set()
        h.sampler.close()


def test_the_answer_of_an_abandoned_query_is_dropped() -> None:
    h = Harness(LATENCY, query_deadline=0.05)
    release = h.prometheus.hold["q_latency"] = threading.Event()
    try:
        h.answer(LATENCY, 9.0)
        h.sampler.run_check()
        del h.prometheus.hold["q_latency"]
        release.set()
        assert wait_until(lambda: h.sampler.in_flight() == 0, 10)
        h.sampler.run_check()
        h.sampler.run_check()
        assert h.publisher.sent == []  # two samples judged, not three
        h.sampler.run_check()
        assert [m["violations_count"] for m in h.publisher.sent] == [3]
    finally:
        release.set()
        h.sampler.close()


@pytest.mark.parametrize(("deadline", "t_check", "expected"), [(6.0, 30, 6.0), (6.0, 5, 4.0), (0.5, 1, 0.5)])
def test_a_check_never_waits_longer_than_most_of_its_interval(deadline: float, t_check: float, expected: float) -> None:
    h = Harness(LATENCY, query_deadline=deadline, t_check=t_check)
    try:
        assert h.sampler.deadline(h.config) == pytest.approx(expected)
    finally:
        h.sampler.close()


def test_a_config_posted_while_a_check_runs_applies_from_the_next_check() -> None:
    h = Harness(LATENCY, FREE)
    release = h.prometheus.hold["q_latency"] = threading.Event()
    results: list[Any] = []
    try:
        h.answer(LATENCY, 0.5)
        h.answer(FREE, 0.5)
        check = threading.Thread(target=lambda: results.append(h.sampler.run_check()))
        check.start()
        assert wait_until(lambda: "q_latency" in h.prometheus.asked, 10)
        only_free = MetricRule(name="free_ratio", type="gauge", query="q_free", min=0.6, max=1.0)
        h.config = SlaConfig(metrics=(only_free,), t_check=30, extra_settings={})  # swapped mid-check
        release.set()
        check.join(timeout=10)
        assert [o.metric for o in results[0].outcomes] == ["latency", "free_ratio"]  # the old config
        second = h.sampler.run_check()
        assert [o.metric for o in second.outcomes] == ["free_ratio"]
        assert h.publisher.sent == []
    finally:
        release.set()
        h.sampler.close()
