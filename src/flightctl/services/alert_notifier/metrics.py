"""alert-notifier's own metrics, declared in one place (HTTP and Kafka ones come from
flightctl.services.common)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from flightctl.services.common.metrics import LATENCY_BUCKETS

TELEGRAM_BUCKETS = (*LATENCY_BUCKETS, 30.0)


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "notifications_total",
            "Notification events handled, by kind (alert, sla) and outcome "
            "(sent, failed, skipped, pending: retried later, duplicate: already handled).",
            ("kind", "status"),
            registry=registry,
        )
        self.telegram_latency = Histogram(
            "telegram_request_duration_seconds",
            "Latency of one Telegram sendMessage call, answered or not.",
            buckets=TELEGRAM_BUCKETS,
            registry=registry,
        )
        self.telegram_errors = Counter(
            "telegram_errors_total",
            "Failed Telegram calls by kind (rate_limited, timeout, network, server_error, "
            "bad_request, forbidden, invalid_token, other).",
            ("kind",),
            registry=registry,
        )
        self.skipped = Counter(
            "notifications_skipped_total",
            "Notifications recorded as skipped, by reason (no_token, user_not_found, no_chat_id).",
            ("reason",),
            registry=registry,
        )
        self.link_requests = Counter(
            "telegram_link_requests_total",
            "/start messages answered by the bot, by outcome (linked, unknown, expired, taken, "
            "invalid, unavailable, help).",
            ("outcome",),
            registry=registry,
        )
