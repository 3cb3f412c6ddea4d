"""data-collector's own metrics, declared in one place."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.opensky_calls = Counter(
            "opensky_calls_total", "OpenSky API calls by outcome.", ("outcome",), registry=registry
        )
        self.fetch_duration = Histogram(
            "opensky_fetch_duration_seconds",
            "Time to fetch one airport's flights.",
            ("airport_code",),
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.rate_limit_remaining = Gauge(
            "opensky_rate_limit_remaining",
            "OpenSky credits left (X-Rate-Limit-Remaining).",
            registry=registry,
        )
        self.breaker_open = Gauge(
            "opensky_circuit_open",
            "1 while the OpenSky circuit breaker is open.",
            registry=registry,
        )
        self.cycle_duration = Histogram(
            "collector_cycle_duration_seconds",
            "Duration of a collection cycle.",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.last_success = Gauge(
            "collector_last_success_timestamp_seconds",
            "Unix time of the last successful cycle (one with no airport to fetch, or at least one served).",
            registry=registry,
        )
        self.started = Gauge(
            "collector_started_timestamp_seconds",
            "Unix time this data-collector started: the staleness reference before a first success.",
            registry=registry,
        )
        self.started.set_to_current_time()
        self.cycles = Counter(
            "collector_cycles_total",
            "Collection cycles, by outcome (ok, failed, skipped: another one was running).",
            ("outcome",),
            registry=registry,
        )
        for outcome in ("ok", "failed", "skipped"):
            self.cycles.labels(outcome)
        self.airports = Counter(
            "collector_airports_total",
            "Airports collected, by source (opensky, mock, unavailable).",
            ("source",),
            registry=registry,
        )
        self.flights_stored = Counter(
            "collector_flights_stored_total",
            "Flights upserted, by source.",
            ("source",),
            registry=registry,
        )
        self.messages_published = Counter(
            "collector_messages_published_total",
            "Messages published to to-alert-system.",
            registry=registry,
        )
