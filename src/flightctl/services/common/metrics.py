"""Metrics shared by every service. Each process owns one registry, built in its factory;
service-specific metrics are declared in the service's own ``metrics.py`` on that registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("service", "method", "endpoint", "status")
        self.requests = Counter("http_requests_total", "HTTP requests answered.", labels, registry=registry)
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "HTTP requests being served.",
            ("service", "method"),
            registry=registry,
        )


class KafkaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter(
            "kafka_messages_consumed_total",
            "Kafka messages handled, by outcome.",
            ("topic", "outcome"),
            registry=registry,
        )
        self.produced = Counter(
            "kafka_messages_produced_total",
            "Kafka messages produced.",
            ("topic",),
            registry=registry,
        )
        self.lag = Gauge(
            "kafka_consumer_lag",
            "Messages not yet processed by this consumer: the partitions' end offsets minus its "
            "positions, summed over the partitions of the topic assigned to it.",
            ("service", "topic"),
            registry=registry,
        )
