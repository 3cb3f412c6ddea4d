"""What to do with one event: record it, find the chat, send, record the outcome. Plain logic:
the store, the user directory and the sender are injected (Kafka and SQL live elsewhere)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from flightctl.services.alert_notifier.events import AlertEvent, Event
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.telegram import PermanentFailure, TransientFailure
from flightctl.services.alert_notifier.text import message_text
from flightctl.services.alert_notifier.users import UserInfo

log = logging.getLogger(__name__)

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
FINAL = frozenset({SENT, FAILED, SKIPPED})
"""A delivery in one of these states is never attempted again (a redelivered event is a no-op)."""
ALERT, SLA = "alert", "sla"


@dataclasses.dataclass
class DeliveryRecord:
    """One row of the delivery log."""

    event_id: str
    kind: str
    user_email: str
    text: str
    created_at: datetime
    status: str = PENDING
    chat_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None


class DeliveryStore(Protocol):
    def claim(self, draft: DeliveryRecord) -> AbstractContextManager[DeliveryRecord]:
        """Insert ``draft`` unless its event is already recorded, hold the event's row for this
        caller alone (another consumer of the same event waits or fails), and yield the stored
        state. Changes made to the yielded record are saved when the block exits normally and
        discarded when it raises."""
        ...


class Directory(Protocol):
    def lookup(self, email: str) -> UserInfo | None:
        """The user, None when there is none; raises when user-manager cannot answer."""
        ...


class Sender(Protocol):
    def send(self, chat_id: str, text: str) -> int:
        """Deliver; returns the calls made, else raises PermanentFailure or TransientFailure."""
        ...


class DeliveryPending(Exception):
    """Telegram could not be reached; the row stays pending and the event is retried later."""


class Notifier:
    def __init__(
        self,
        *,
        store: DeliveryStore,
        directory: Directory,
        sender: Sender | None,
        admin_email: str,
        metrics: NotifierMetrics,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._directory = directory
        self._sender = sender
        self._admin_email = admin_email
        self._metrics = metrics
        self._now = now

    def draft(self, event: Event) -> DeliveryRecord:
        if isinstance(event, AlertEvent):
            kind, email = ALERT, event.user_email
        else:
            kind, email = SLA, self._admin_email
        return DeliveryRecord(
            event_id=event.event_id,
            kind=kind,
            user_email=email,
            text=message_text(event),
            created_at=self._now(),
        )

    def deliver(self, event: Event) -> DeliveryRecord:
        """Handle ``event`` once. Returns the recorded outcome; raises DeliveryPending when
        Telegram stayed unreachable, and lets a user-manager outage propagate (nothing is
        recorded then): in both cases the caller retries the event later."""
        draft = self.draft(event)
        with self._store.claim(draft) as record:
            if record.status in FINAL:
                self._metrics.notifications.labels(record.kind, "duplicate").inc()
                log.info("event %s was already handled (%s)", record.event_id, record.status)
                return dataclasses.replace(record)
            self._attempt(record)
            outcome = dataclasses.replace(record)
        self._metrics.notifications.labels(outcome.kind, outcome.status).inc()
        if outcome.status == PENDING:
            raise DeliveryPending(
                f"event {outcome.event_id} not delivered yet after {outcome.attempts} attempts: {outcome.last_error}"
            )
        log.info(
            "event %s %s",
            outcome.event_id,
            outcome.status,
            extra={"attempts": outcome.attempts},  # no chat id or email at INFO: personal data
        )
        return outcome

    def _attempt(self, record: DeliveryRecord) -> None:
        if self._sender is None:
            self._skip(record, "no_token", "TELEGRAM_BOT_TOKEN is not set")
            return
        user = self._directory.lookup(record.user_email)
        if user is None:
            self._skip(record, "user_not_found", f"no user {record.user_email} in user-manager")
            return
        if not user.telegram_chat_id:
            self._skip(record, "no_chat_id", f"user {record.user_email} has no Telegram chat id")
            return
        record.chat_id = user.telegram_chat_id
        try:
            attempts = self._sender.send(user.telegram_chat_id, record.text)
        except PermanentFailure as exc:
            record.status = FAILED
            record.attempts += exc.attempts
            record.last_error = exc.message
        except TransientFailure as exc:
            record.attempts += exc.attempts
            record.last_error = exc.message
        else:
            record.status = SENT
            record.attempts += attempts
            record.last_error = None
            record.sent_at = self._now()

    def _skip(self, record: DeliveryRecord, reason: str, message: str) -> None:
        record.status = SKIPPED
        record.last_error = message
        self._metrics.skipped.labels(reason).inc()
