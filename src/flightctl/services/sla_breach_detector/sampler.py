"""One SLA check: run every metric's query concurrently, feed the samples to the breach
windows, publish the breaches, and keep the per-metric statistics of GET /breach/stats.

A check waits for its queries until a deadline (at most 80% of ``t_check``); a query still
running then is counted as failed for that check and its late answer dropped, so one slow
query never delays the other metrics nor the schedule.

Knows nothing of Flask or Kafka: Prometheus is a ``query`` function and the ``sla_breach``
topic a ``publish`` function, both injected (app.py binds them)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flightctl.services.common.clock import utcnow
from flightctl.services.sla_breach_detector.config import MetricRule, SlaConfig
from flightctl.services.sla_breach_detector.metrics import SlaMetrics
from flightctl.services.sla_breach_detector.prometheus import PrometheusError, Sample
from flightctl.services.sla_breach_detector.window import BreachWindows, Verdict

log = logging.getLogger(__name__)

QueryFn = Callable[[str], Sequence[Sample]]
"""Runs one PromQL instant query; raises PrometheusError when it fails or times out."""
PublishFn = Callable[[Sequence[dict[str, Any]]], object]
"""Publishes breach events (``sla_breach`` values, keyed by ``metric``) and returns once the
broker acknowledged them all; raises otherwise."""


@dataclass
class _MetricStats:
    low_breaches: int = 0
    high_breaches: int = 0
    last_value: float | None = None
    last_check: str | None = None
    no_data: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "low_breaches": self.low_breaches,
            "high_breaches": self.high_breaches,
            "last_value": self.last_value,
            "last_check": self.last_check,
            "no_data": self.no_data,
            "errors": self.errors,
        }


class BreachStats:
    """Per-metric counts since the process started (GET /breach/stats). Thread-safe.

    ``last_value`` is the latest usable value of the metric; when its query returns several
    series it is the largest of them. Only the current config's metrics are listed: a metric
    that leaves the config leaves the statistics (a metric kept by name keeps its counts), and a
    check that started under the old config records nothing for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _MetricStats] = {}
        self._tracked: frozenset[str] | None = None  # None until the first track(): record all

    def _entry(self, name: str) -> _MetricStats | None:
        if self._tracked is not None and name not in self._tracked:
            return None
        return self._metrics.setdefault(name, _MetricStats())

    def track(self, config: SlaConfig) -> None:
        """Show every metric of ``config``, even before its first check, and only those."""
        with self._lock:
            self._tracked = frozenset(rule.name for rule in config.metrics)
            self._metrics = {name: entry for name, entry in self._metrics.items() if name in self._tracked}
            for rule in config.metrics:
                self._entry(rule.name)

    def record(
        self,
        name: str,
        *,
        checked_at: str,
        value: float | None = None,
        no_data: bool = False,
        error: bool = False,
    ) -> None:
        with self._lock:
            entry = self._entry(name)
            if entry is None:
                return
            entry.last_check = checked_at
            if value is not None:
                entry.last_value = value
            entry.no_data += int(no_data)
            entry.errors += int(error)

    def record_breach(self, name: str, breach_type: str) -> None:
        with self._lock:
            entry = self._entry(name)
            if entry is None:
                return
            if breach_type == "low":
                entry.low_breaches += 1
            else:
                entry.high_breaches += 1

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: entry.as_dict() for name, entry in self._metrics.items()}


@dataclass
class MetricOutcome:
    metric: str
    samples: int = 0
    no_data: bool = False
    error: str | None = None


@dataclass
class CheckResult:
    checked_at: str
    outcomes: list[MetricOutcome] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    published: bool = True
    publish_error: str | None = None


def breach_event(
    rule: MetricRule,
    labels: Mapping[str, str],
    verdict: Verdict,
    *,
    event_id: str,
    timestamp: str,
) -> dict[str, Any]:
    """The ``sla_breach`` message value: the documented fields (docs/architecture.md) plus the series' labels."""
    return {
        "event_id": event_id,
        "timestamp": timestamp,
        "metric": rule.name,
        "query": rule.query,
        "observed_value": verdict.observed,
        "threshold_violated": verdict.threshold,
        "breach_type": verdict.breach_type,
        "violations_count": verdict.violations,
        "labels": dict(labels),
    }


_QueryOutcome = tuple[list[Sample] | None, str | None]
DEADLINE_SHARE = 0.8
"""A check waits for its queries at most this share of ``t_check``."""


class Sampler:
    def __init__(
        self,
        *,
        config: Callable[[], SlaConfig],
        query: QueryFn,
        publish: PublishFn,
        windows: BreachWindows,
        stats: BreachStats,
        metrics: SlaMetrics,
        now: Callable[[], datetime] = utcnow,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
        timer: Callable[[], float] = time.perf_counter,
        query_deadline: float = 6.0,
    ) -> None:
        self._config = config
        self._query = query
        self._publish = publish
        self._windows = windows
        self._stats = stats
        self._metrics = metrics
        self._now = now
        self._new_id = new_id
        self._timer = timer
        self._query_deadline = query_deadline
        self._in_flight: dict[tuple[str, str], Future[_QueryOutcome]] = {}
        self._closed = False

    def close(self) -> None:
        """No new query starts; those running end by their own timeout (daemon threads)."""
        self._closed = True

    def in_flight(self) -> int:
        """Queries started and not answered yet (abandoned ones included)."""
        return sum(1 for future in list(self._in_flight.values()) if not future.done())

    def _start(self, rule: MetricRule) -> Future[_QueryOutcome]:
        """The metric's query in its own thread. At most one query per metric is in flight: while
        an abandoned one still runs, the metric is reported as failed instead of piling up
        threads (and a slow metric never takes a thread another metric needs)."""
        key = (rule.name, rule.query)
        previous = self._in_flight.get(key)
        if previous is not None and not previous.done():
            waiting: Future[_QueryOutcome] = Future()
            waiting.set_result((None, "the previous query of this metric is still running"))
            return waiting
        future: Future[_QueryOutcome] = Future()
        if self._closed:
            future.set_result((None, "the detector is stopping"))
            return future
        self._in_flight[key] = future
        thread = threading.Thread(
            target=lambda: future.set_result(self._run_query(rule)), name=f"sla-query-{rule.name}", daemon=True
        )
        thread.start()
        return future

    def _run_query(self, rule: MetricRule) -> _QueryOutcome:
        started = self._timer()
        try:
            return list(self._query(rule.query)), None
        except PrometheusError as exc:
            return None, str(exc)
        except Exception as exc:  # a bug in one query path must not stop the other metrics
            log.exception("query of %s failed unexpectedly", rule.name)
            return None, f"unexpected error: {exc}"
        finally:
            self._metrics.query_duration.labels(rule.name).observe(self._timer() - started)

    def run_check(self) -> CheckResult:
        """One check with the config current when it starts (a config posted meanwhile is
        used from the next check on)."""
        config = self._config()
        started = self._now()
        checked_at = started.isoformat()
        self._windows.prune(config)
        self._stats.track(config)
        for key in [k for k, f in self._in_flight.items() if f.done()]:
            del self._in_flight[key]
        futures = [(rule, self._start(rule)) for rule in config.metrics]
        deadline = self.deadline(config)
        wait([f for _, f in futures], timeout=deadline)
        result = CheckResult(checked_at=checked_at)
        pending: list[tuple[MetricRule, Mapping[str, str], Verdict]] = []
        for rule, future in futures:
            samples, error = self._answer(future, deadline)
            outcome = self._evaluate(rule, samples, error, checked_at, pending)
            result.outcomes.append(outcome)
        self._publish_breaches(pending, checked_at, result)
        self._metrics.checks.inc()
        self._metrics.last_check.set(started.timestamp())
        return result

    def deadline(self, config: SlaConfig) -> float:
        """How long a check waits for its queries: the query deadline, but never more than
        80% of ``t_check``, so a slow query cannot make a check overrun its interval."""
        return min(self._query_deadline, DEADLINE_SHARE * float(config.t_check))

    @staticmethod
    def _answer(future: Future[_QueryOutcome], deadline: float) -> _QueryOutcome:
        if future.done():
            return future.result()
        # Left running: its answer, when it comes, is dropped; this check goes on.
        return None, f"no answer within {deadline:g}s (the query was abandoned for this check)"

    def _evaluate(
        self,
        rule: MetricRule,
        samples: list[Sample] | None,
        error: str | None,
        checked_at: str,
        pending: list[tuple[MetricRule, Mapping[str, str], Verdict]],
    ) -> MetricOutcome:
        if samples is None:
            log.warning("query of %s failed: %s", rule.name, error, extra={"metric": rule.name})
            self._metrics.query_errors.labels(rule.name).inc()
            self._stats.record(rule.name, checked_at=checked_at, error=True)
            return MetricOutcome(rule.name, error=error)
        usable = [s for s in samples if s.usable]
        if not usable:
            log.debug("no data for %s", rule.name, extra={"metric": rule.name})
            self._metrics.no_data.labels(rule.name).inc()
            self._stats.record(rule.name, checked_at=checked_at, no_data=True)
            return MetricOutcome(rule.name, no_data=True)
        self._stats.record(rule.name, checked_at=checked_at, value=max(s.value for s in usable))
        for sample in usable:
            verdict = self._windows.observe(rule, sample.labels, sample.value)
            if verdict is not None:
                pending.append((rule, sample.labels, verdict))
        return MetricOutcome(rule.name, samples=len(usable))

    def _publish_breaches(
        self,
        pending: list[tuple[MetricRule, Mapping[str, str], Verdict]],
        checked_at: str,
        result: CheckResult,
    ) -> None:
        if not pending:
            return
        events = [
            breach_event(rule, labels, verdict, event_id=str(self._new_id()), timestamp=checked_at)
            for rule, labels, verdict in pending
        ]
        try:
            self._publish(events)
        except Exception as exc:  # the windows are kept, so the breach is raised again next check
            log.exception("%d SLA breach(es) could not be published; retrying at the next check", len(events))
            self._metrics.publish_failures.inc()
            result.published = False
            result.publish_error = str(exc) or type(exc).__name__
            return
        for (rule, labels, verdict), event in zip(pending, events, strict=True):
            self._windows.reset(rule, labels)
            self._stats.record_breach(rule.name, verdict.breach_type)
            self._metrics.breaches.labels(rule.name, verdict.breach_type).inc()
            log.warning(
                "SLA breach: %s is %s (%d samples %s %g)",
                rule.name,
                verdict.breach_type,
                verdict.violations,
                "below min" if verdict.breach_type == "low" else "above max",
                verdict.threshold,
                extra={"metric": rule.name, "labels": dict(labels), "event_id": event["event_id"]},
            )
        result.breaches = events
