"""In-memory stand-ins for the notifier's collaborators (no I/O, no waiting)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flightctl.services.alert_notifier.service import DeliveryRecord
from flightctl.services.alert_notifier.telegram import TelegramFailure
from flightctl.services.alert_notifier.users import UserInfo
from tests.fakes.clock import FakeClock  # noqa: F401 - re-exported for the notifier tests

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeStore:
    """A DeliveryStore over a dict: changes are kept when the block ends normally."""

    def __init__(self) -> None:
        self.rows: dict[str, DeliveryRecord] = {}
        self.claims = 0

    @contextmanager
    def claim(self, draft: DeliveryRecord) -> Iterator[DeliveryRecord]:
        self.claims += 1
        stored = self.rows.get(draft.event_id, draft)
        working = dataclasses.replace(stored)
        yield working
        self.rows[draft.event_id] = working


class FakeDirectory:
    def __init__(self, users: dict[str, str | None] | None = None, error: Exception | None = None) -> None:
        self.users = users or {}
        self.error = error
        self.lookups: list[str] = []

    def lookup(self, email: str) -> UserInfo | None:
        self.lookups.append(email)
        if self.error is not None:
            raise self.error
        if email not in self.users:
            return None
        return UserInfo(email=email, telegram_chat_id=self.users[email])


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
