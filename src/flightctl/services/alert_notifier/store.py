"""The delivery log in PostgreSQL: the statuses of a batch's events, the final outcomes of a batch
written at once, claiming an event's row for one sender, and reading the log."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.alert_notifier.models import Delivery, TelegramUpdateOffset
from flightctl.services.alert_notifier.service import PENDING, DeliveryBusy, DeliveryRecord
from flightctl.services.common.db import transaction

LOCK_NOT_AVAILABLE = "55P03"
_FIELDS = (
    "event_id", "kind", "user_email", "chat_id", "text", "status",
    "attempts", "last_error", "created_at", "sent_at",
)  # fmt: skip
_MUTABLE = ("chat_id", "status", "attempts", "last_error", "sent_at")


class SqlDeliveryStore:
    """A batch's statuses are one read and its final outcomes (skipped deliveries) one
    transaction. A message to send gets a transaction of its own: the row is inserted (once per
    event) and locked with ``FOR UPDATE NOWAIT`` while the message is sent, so two consumers that
    got the same event during a rebalance never both send it; the outcome is written in the same
    transaction."""

    def __init__(self, factory: sessionmaker[Session], *, lock_timeout_ms: int = 5000) -> None:
        self._factory = factory
        self._lock_timeout_ms = int(lock_timeout_ms)

    def statuses(self, event_ids: Collection[str]) -> dict[str, str]:
        if not event_ids:
            return {}
        with transaction(self._factory) as session:
            return {event_id: status for event_id, status in session.execute(_STATUSES, {"ids": list(event_ids)})}

    def record_final(self, records: Sequence[DeliveryRecord]) -> set[str]:
        """Insert each record, or finish its event's pending row (status and last_error; the row
        keeps its text, time and attempts); a row already final is left alone. One statement
        over arrays (``unnest``), the same for every batch."""
        if not records:
            return set()
        columns = {name: [getattr(r, name) for r in records] for name in _FIELDS}
        with transaction(self._factory) as session:
            # A pending row another consumer is sending right now makes this wait: bounded.
            session.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": str(self._lock_timeout_ms)})
            return set(session.scalars(_RECORD_FINAL, {**columns, "pending": PENDING}))

    @contextmanager
    def claim(self, draft: DeliveryRecord) -> Iterator[DeliveryRecord]:
        with transaction(self._factory) as session:
            row = self._lock(session, draft)
            record = DeliveryRecord(**{name: getattr(row, name) for name in _FIELDS})
            yield record
            for name in _MUTABLE:
                setattr(row, name, getattr(record, name))

    def _lock(self, session: Session, draft: DeliveryRecord) -> Delivery:
        # A concurrent insert of the same event makes ours wait for it: bounded by lock_timeout.
        session.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": str(self._lock_timeout_ms)})
        values = {name: getattr(draft, name) for name in _FIELDS}
        try:
            session.execute(insert(Delivery).values(**values).on_conflict_do_nothing(index_elements=["event_id"]))
            return session.execute(
                select(Delivery).where(Delivery.event_id == draft.event_id).with_for_update(nowait=True)
            ).scalar_one()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise DeliveryBusy(f"event {draft.event_id} is being delivered by another consumer") from None
            raise


_STATUSES = text("SELECT event_id, status FROM deliveries WHERE event_id = ANY(CAST(:ids AS varchar[]))")
_RECORD_FINAL = text(
    "INSERT INTO deliveries (event_id, kind, user_email, chat_id, text, status, attempts, last_error, created_at, "
    "sent_at) SELECT * FROM unnest(CAST(:event_id AS varchar[]), CAST(:kind AS varchar[]), "
    "CAST(:user_email AS varchar[]), CAST(:chat_id AS varchar[]), CAST(:text AS text[]), CAST(:status AS varchar[]), "
    "CAST(:attempts AS integer[]), CAST(:last_error AS text[]), CAST(:created_at AS timestamptz[]), "
    "CAST(:sent_at AS timestamptz[])) "
    "ON CONFLICT (event_id) DO UPDATE SET status = excluded.status, last_error = excluded.last_error "
    "WHERE deliveries.status = :pending RETURNING event_id"
)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; a naive value (a driver that drops the zone) is taken as UTC."""
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


def list_deliveries(session: Session, email: str | None, limit: int) -> list[dict[str, Any]]:
    """The delivery log, newest first, optionally for one user."""
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
    if email:
        query = query.where(Delivery.user_email == email)
    return [
        {
            "event_id": row.event_id,
            "kind": row.kind,
            "user_email": row.user_email,
            "chat_id": row.chat_id,
            "text": row.text,
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "created_at": iso(row.created_at),
            "sent_at": iso(row.sent_at),
        }
        for row in session.scalars(query)
    ]


class SqlUpdateOffset:
    """The next Telegram update offset, so a restarted (or another) poller neither answers a
    handled ``/start`` again nor skips one that was not handled."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def load(self) -> int | None:
        with transaction(self._factory) as session:
            row = session.get(TelegramUpdateOffset, 1)
            return None if row is None else int(row.next_offset)

    def save(self, next_offset: int) -> None:
        statement = insert(TelegramUpdateOffset).values(id=1, next_offset=next_offset)
        statement = statement.on_conflict_do_update(
            index_elements=["id"],
            set_={"next_offset": func.greatest(TelegramUpdateOffset.next_offset, statement.excluded.next_offset)},
        )
        with transaction(self._factory) as session:
            session.execute(statement)
