"""In-memory stand-ins for the notifier's collaborators (no I/O, no waiting)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from flightctl.services.alert_notifier.service import PENDING, DeliveryBusy, DeliveryRecord
from flightctl.services.alert_notifier.telegram import TelegramFailure
from flightctl.services.alert_notifier.users import UserInfo
from flightctl.services.common.errors import Unavailable
from tests.fakes.clock import FakeClock  # noqa: F401 - re-exported for the notifier tests

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeStore:
    """A DeliveryStore over a dict: a claim's changes are kept when the block ends normally;
    ``busy`` event ids are held by another consumer."""

    def __init__(self) -> None:
        self.rows: dict[str, DeliveryRecord] = {}
        self.claims = 0
        self.reads = 0
        self.writes: list[list[str]] = []
        self.busy: set[str] = set()

    def statuses(self, event_ids: Collection[str]) -> dict[str, str]:
        self.reads += 1
        return {e: self.rows[e].status for e in event_ids if e in self.rows}

    def record_final(self, records: Sequence[DeliveryRecord]) -> set[str]:
        written = set()
        for record in records:
            stored = self.rows.get(record.event_id)
            if stored is None:
                self.rows[record.event_id] = dataclasses.replace(record)
            elif stored.status == PENDING:
                stored.status, stored.last_error = record.status, record.last_error
            else:
                continue
            written.add(record.event_id)
        self.writes.append(sorted(written))
        return written

    @contextmanager
    def claim(self, draft: DeliveryRecord) -> Iterator[DeliveryRecord]:
        self.claims += 1
        if draft.event_id in self.busy:
            raise DeliveryBusy(f"event {draft.event_id} is being delivered by another consumer")
        stored = self.rows.get(draft.event_id, draft)
        working = dataclasses.replace(stored)
        yield working
        self.rows[draft.event_id] = working


class FakeDirectory:
    """``users``: email -> chat id (None: no chat); ``error`` fails every lookup, ``failing``
    the lookups of those emails."""

    def __init__(
        self,
        users: dict[str, str | None] | None = None,
        error: Exception | None = None,
        failing: Collection[str] = (),
    ) -> None:
        self.users = users or {}
        self.error = error
        self.failing = set(failing)
        self.lookups: list[str] = []

    def lookup_many(self, emails: Collection[str]) -> tuple[dict[str, UserInfo | None], dict[str, Exception]]:
        answers: dict[str, UserInfo | None] = {}
        failures: dict[str, Exception] = {}
        for email in sorted(emails):
            self.lookups.append(email)
            if self.error is not None or email in self.failing:
                failures[email] = self.error or Unavailable("user-manager did not answer GetUser (UNAVAILABLE)")
            elif email not in self.users:
                answers[email] = None
            else:
                answers[email] = UserInfo(email=email, telegram_chat_id=self.users[email])
        return answers, failures


class FakeSender:
    """Records sends; ``failures`` are raised, in order, before sends succeed."""

    def __init__(self, *failures: TelegramFailure, attempts: int = 1) -> None:
        self.failures = list(failures)
        self.attempts = attempts
        self.sent: list[tuple[str, str]] = []
        self.calls = 0

    def send(self, chat_id: str, text: str) -> int:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, text))
        return self.attempts
