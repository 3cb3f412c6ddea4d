"""user-manager's own metrics (the HTTP ones come from flightctl.services.common)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class UserMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.idempotency = Counter(
            "idempotency_requests_total",
            "Idempotent requests by outcome (executed, replayed, in_progress, mismatch).",
            ("outcome",),
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "interest_deletion_outbox_backlog",
            "Deleted users whose interests are still to be removed in data-collector.",
            registry=registry,
        )
