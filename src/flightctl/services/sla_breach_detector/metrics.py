"""sla-breach-detector's own metrics, declared in one place."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

QUERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SlaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.checks = Counter("sla_checks_total", "SLA checks run.", registry=registry)
        self.breaches = Counter(
            "sla_breaches_total",
            "SLA breaches published, by metric and type (low, high).",
            ("metric", "breach_type"),
            registry=registry,
        )
        self.no_data = Counter(
            "sla_no_data_total",
            "Checks in which a metric's query gave no usable sample.",
            ("metric",),
            registry=registry,
        )
        self.query_errors = Counter(
            "sla_query_errors_total",
            "Prometheus queries that failed or timed out, by metric.",
            ("metric",),
            registry=registry,
        )
        self.query_duration = Histogram(
            "sla_query_duration_seconds",
            "Duration of one Prometheus query, by metric.",
            ("metric",),
            buckets=QUERY_BUCKETS,
            registry=registry,
        )
        self.publish_failures = Counter(
            "sla_publish_failures_total",
            "Checks whose breaches could not be published to Kafka (retried at the next check).",
            registry=registry,
        )
        self.last_check = Gauge("sla_last_check_timestamp_seconds", "Unix time of the last check.", registry=registry)
