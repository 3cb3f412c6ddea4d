"""The delivery decision, with an in-memory store, directory and sender."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from flightctl.services.alert_notifier.events import AlertEvent, SlaEvent
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.service import (
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    DeliveryPending,
    DeliveryRecord,
    Notifier,
)
from flightctl.services.alert_notifier.telegram import PermanentFailure, TransientFailure
from flightctl.services.common.errors import Unavailable
from tests.unit.alert_notifier.fakes import T0, FakeDirectory, FakeSender, FakeStore

ADMIN = "admin@example.com"


def alert(event_id: str = "e-1", email: str = "ada@example.com") -> AlertEvent:
    return AlertEvent(
        event_id=event_id,
        user_email=email,
        airport_code="LIRF",
        kind="high",
        flight_count=10,
        threshold=2,
        condition=None,
        source="mock",
    )


def breach() -> SlaEvent:
    return SlaEvent(
        event_id="s-1",
        timestamp="2026-01-01T00:00:00Z",
        metric="up",
        query="up",
        observed_value=0,
        threshold_violated=1,
        breach_type="low",
        violations_count=4,
    )


class World:
    def __init__(self, sender: FakeSender | None, users: dict[str, str | None], directory_error: Exception | None):
        self.store = FakeStore()
        self.directory = FakeDirectory(users, directory_error)
        self.sender = sender
        self.registry = CollectorRegistry()
        self.notifier = Notifier(
            store=self.store,
            directory=self.directory,
            sender=sender,
            admin_email=ADMIN,
            metrics=NotifierMetrics(self.registry),
            now=lambda: T0,
        )

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def world(
    sender: FakeSender | None = None,
    users: dict[str, str | None] | None = None,
    directory_error: Exception | None = None,
    *,
    no_token: bool = False,
) -> World:
    if sender is None and not no_token:
        sender = FakeSender()
    if users is None:
        users = {"ada@example.com": "1001", ADMIN: "-100200"}
    return World(sender, users, directory_error)


def test_an_alert_is_sent_to_the_users_chat() -> None:
    w = world()
    outcome = w.notifier.deliver(alert())
    assert w.sender is not None
    assert [chat for chat, _ in w.sender.sent] == ["1001"]
    assert "LIRF" in w.sender.sent[0][1]
    assert "(simulated data)" in w.sender.sent[0][1]
    assert (outcome.status, outcome.chat_id, outcome.attempts, outcome.sent_at) == (SENT, "1001", 1, T0)
    assert w.store.rows["e-1"].status == SENT
    assert w.sample("notifications_total", kind="alert", status="sent") == 1


def test_an_sla_breach_goes_to_the_admin() -> None:
    w = world()
    outcome = w.notifier.deliver(breach())
    assert (outcome.kind, outcome.user_email, outcome.chat_id, outcome.status) == ("sla", ADMIN, "-100200", SENT)
    assert w.directory.lookups == [ADMIN]


@pytest.mark.parametrize("status", [SENT, SKIPPED, FAILED])
def test_an_event_already_handled_is_not_sent_again(status: str) -> None:
    w = world()
    w.store.rows["e-1"] = DeliveryRecord(
        event_id="e-1", kind="alert", user_email="ada@example.com", text="t", created_at=T0, status=status
    )
    outcome = w.notifier.deliver(alert())
    assert outcome.status == status
    assert w.sender is not None and w.sender.calls == 0
    assert w.directory.lookups == []
    assert w.sample("notifications_total", kind="alert", status="duplicate") == 1


def test_a_redelivered_event_is_sent_once() -> None:
    w = world()
    w.notifier.deliver(alert())
    w.notifier.deliver(alert())
    assert w.sender is not None and len(w.sender.sent) == 1


@pytest.mark.parametrize(
    ("users", "reason"),
    [({}, "user_not_found"), ({"ada@example.com": None}, "no_chat_id")],
)
def test_no_chat_means_skipped_with_a_reason(users: dict[str, str | None], reason: str) -> None:
    w = world(users=users)
    outcome = w.notifier.deliver(alert())
    assert outcome.status == SKIPPED
    assert outcome.last_error
    assert w.sender is not None and w.sender.calls == 0
    assert w.sample("notifications_skipped_total", reason=reason) == 1


def test_no_token_means_skipped_without_asking_user_manager() -> None:
    w = world(no_token=True, directory_error=Unavailable("down"))
    outcome = w.notifier.deliver(alert())
    assert outcome.status == SKIPPED
    assert outcome.last_error == "TELEGRAM_BOT_TOKEN is not set"
    assert w.sample("notifications_skipped_total", reason="no_token") == 1


def test_user_manager_down_raises_and_records_nothing() -> None:
    w = world(directory_error=Unavailable("user-manager did not answer GetUser (UNAVAILABLE)"))
    with pytest.raises(Unavailable):
        w.notifier.deliver(alert())
    assert w.store.rows == {}
    assert w.sender is not None and w.sender.calls == 0


def test_a_refusal_is_recorded_as_failed_and_not_retried() -> None:
    w = world(FakeSender(PermanentFailure("Forbidden: bot was blocked by the user", 1)))
    outcome = w.notifier.deliver(alert())
    assert (outcome.status, outcome.attempts, outcome.last_error) == (
        FAILED,
        1,
        "Forbidden: bot was blocked by the user",
    )
    w.notifier.deliver(alert())
    assert w.sender is not None and w.sender.calls == 1


def test_telegram_down_keeps_the_row_pending_then_delivers_on_a_later_try() -> None:
    w = world(FakeSender(TransientFailure("Internal Server Error", 5), attempts=1))
    with pytest.raises(DeliveryPending):
        w.notifier.deliver(alert())
    row = w.store.rows["e-1"]
    assert (row.status, row.attempts, row.last_error, row.chat_id) == (PENDING, 5, "Internal Server Error", "1001")
    assert w.sample("notifications_total", kind="alert", status="pending") == 1

    outcome = w.notifier.deliver(alert())  # the runner tries the message again
    assert (outcome.status, outcome.attempts, outcome.last_error) == (SENT, 6, None)
    assert w.sender is not None and len(w.sender.sent) == 1


def test_the_pending_row_keeps_its_first_text_and_time() -> None:
    w = world(FakeSender(TransientFailure("down", 1)))
    with pytest.raises(DeliveryPending):
        w.notifier.deliver(alert())
    first: Any = w.store.rows["e-1"]
    outcome = w.notifier.deliver(alert())
    assert (outcome.text, outcome.created_at) == (first.text, first.created_at)
