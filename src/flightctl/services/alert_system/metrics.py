"""alert-system's own metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter(
            "alerts_emitted_total",
            "Notifications sent to to-notifier, by kind.",
            ("kind",),
            registry=registry,
        )
        self.transitions = Counter(
            "alert_state_transitions_total",
            "Alert state changes.",
            ("from_state", "to_state"),
            registry=registry,
        )
        self.duplicates = Counter("alert_duplicate_events_total", "Redelivered events dropped.", registry=registry)
