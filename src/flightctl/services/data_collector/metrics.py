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
        # -- the credit plan
        self.credits_used = Counter(
            "opensky_credits_used_total",
            "OpenSky credits spent (the cost table), by endpoint family (flights, states).",
            ("family",),
            registry=registry,
        )
        self.credits_remaining = Gauge(
            "opensky_credits_remaining",
            "OpenSky credits left today by endpoint family (our count, or OpenSky's when lower).",
            ("family",),
            registry=registry,
        )
        self.credits_planned = Gauge(
            "collector_plan_credits",
            "Credits the plan will still spend today, by endpoint family.",
            ("family",),
            registry=registry,
        )
        self.fetches_planned = Gauge(
            "collector_plan_fetches", "OpenSky calls for past days planned for the rest of today.", registry=registry
        )
        self.fetches_deferred = Gauge(
            "collector_plan_deferred_fetches",
            "OpenSky calls for past days still wanted that today's credits do not pay for.",
            registry=registry,
        )
        self.next_fetch = Gauge(
            "collector_next_fetch_timestamp_seconds",
            "Unix time of the next planned call for a past day (0: none planned today).",
            registry=registry,
        )
        self.days_fetched = Counter(
            "collector_day_fetches_total",
            "Calls for an airport's past day(s), by what was stored (opensky, mock, failed: nothing).",
            ("source",),
            registry=registry,
        )
        for family in ("flights", "states"):
            self.credits_used.labels(family)
        for source in ("opensky", "mock", "failed"):
            self.days_fetched.labels(source)
        # -- live traffic
        self.live_rounds = Counter(
            "collector_live_rounds_total",
            "Live-traffic rounds by outcome (ok, mock, failed, skipped: no credits left today).",
            ("outcome",),
            registry=registry,
        )
        for outcome in ("ok", "mock", "failed", "skipped"):
            self.live_rounds.labels(outcome)
        self.live_round_duration = Histogram(
            "collector_live_round_duration_seconds",
            "Duration of a live-traffic round.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.live_interval = Gauge(
            "collector_live_interval_seconds",
            "Time between live-traffic rounds now (LIVE_INTERVAL_SECONDS, or longer to last the day's credits; "
            "0 when none is left).",
            registry=registry,
        )
        self.live_aircraft = Gauge(
            "collector_live_aircraft",
            "Aircraft near an airport at the last live-traffic round.",
            ("airport_code",),
            registry=registry,
        )
        self.live_last_success = Gauge(
            "collector_live_last_success_timestamp_seconds",
            "Unix time of the last live-traffic round that counted at least one airport.",
            registry=registry,
        )
