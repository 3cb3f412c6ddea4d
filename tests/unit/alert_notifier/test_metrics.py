"""Every notifier metric is declared once, on the registry it is given."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from flightctl.services.alert_notifier.metrics import NotifierMetrics


def test_the_metrics_are_exposed() -> None:
    registry = CollectorRegistry()
    metrics = NotifierMetrics(registry)
    metrics.notifications.labels("alert", "sent").inc()
    metrics.telegram_latency.observe(0.2)
    metrics.telegram_errors.labels("rate_limited").inc()
    metrics.skipped.labels("no_chat_id").inc()
    metrics.link_requests.labels("linked").inc()
    text = generate_latest(registry).decode()
    for line in (
        'notifications_total{kind="alert",status="sent"} 1.0',
        "telegram_request_duration_seconds_count 1.0",
        'telegram_errors_total{kind="rate_limited"} 1.0',
        'notifications_skipped_total{reason="no_chat_id"} 1.0',
        'telegram_link_requests_total{outcome="linked"} 1.0',
    ):
        assert line in text


def test_two_registries_do_not_clash() -> None:
    NotifierMetrics(CollectorRegistry())
    NotifierMetrics(CollectorRegistry())
