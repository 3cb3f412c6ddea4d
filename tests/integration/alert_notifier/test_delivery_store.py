"""The delivery log's batch statements on the real PostgreSQL: a batch's statuses in one read,
its final outcomes in one write that never overwrites a final row, and a row being sent that
holds the batch write back until it is done."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from flightctl.platform.proc import wait_until
from flightctl.services.alert_notifier.service import PENDING, SENT, SKIPPED, DeliveryBusy, DeliveryRecord
from flightctl.services.alert_notifier.store import SqlDeliveryStore
from flightctl.services.common import db
from tests.conftest import Platform

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture()
def engine(platform: Platform) -> Iterator[Engine]:
    engine = db.make_engine(platform.database_url("alert-notifier"), pool_size=3)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture()
def store(engine: Engine) -> SqlDeliveryStore:
    return SqlDeliveryStore(db.make_session_factory(engine), lock_timeout_ms=3000)


def draft(event_id: str, **changes: object) -> DeliveryRecord:
    record = DeliveryRecord(
        event_id=event_id, kind="alert", user_email="store@example.com", text=f"text of {event_id}", created_at=T0
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def test_a_batch_of_skips_is_written_once_and_never_over_a_final_row(store: SqlDeliveryStore) -> None:
    run = uuid.uuid4().hex[:8]
    sent, pending, new = f"{run}-sent", f"{run}-pending", f"{run}-new"
    with store.claim(draft(sent)) as record:
        record.status, record.sent_at, record.attempts = SENT, T0, 1
    with store.claim(draft(pending, text="the first text")) as record:
        record.attempts, record.last_error, record.chat_id = 5, "Internal Server Error", "42"
    assert store.statuses([sent, pending, new, f"{run}-unknown"]) == {sent: SENT, pending: PENDING}

    skipped = [
        draft(e, status=SKIPPED, last_error="no chat", created_at=T0 + timedelta(minutes=1))
        for e in (sent, pending, new)
    ]
    assert store.record_final(skipped) == {pending, new}  # the sent row is left alone
    assert store.statuses([sent, pending, new]) == {sent: SENT, pending: SKIPPED, new: SKIPPED}
    with store.claim(draft(pending)) as kept:  # the pending row kept its text, attempts and chat
        assert (kept.text, kept.attempts, kept.chat_id, kept.last_error) == ("the first text", 5, "42", "no chat")
    with store.claim(draft(new)) as inserted:
        assert (inserted.text, inserted.created_at, inserted.status) == (
            f"text of {new}",
            T0 + timedelta(minutes=1),
            SKIPPED,
        )
    assert store.record_final([]) == set() and store.statuses([]) == {}


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO deliveries%'"
                )
            ).scalar()
        )


def test_a_row_being_sent_is_busy_for_a_claim_and_holds_a_batch_write_until_it_is_final(
    store: SqlDeliveryStore, engine: Engine
) -> None:
    event = f"{uuid.uuid4().hex[:8]}-busy"
    claimed, release = threading.Event(), threading.Event()
    written: list[set[str]] = []

    def sending() -> None:
        with store.claim(draft(event)) as record:
            claimed.set()
            release.wait(10)
            record.status, record.sent_at = SENT, T0

    sender = threading.Thread(target=sending)
    sender.start()
    try:
        assert claimed.wait(10)
        with pytest.raises(DeliveryBusy), store.claim(draft(event)):
            pass
        writer = threading.Thread(target=lambda: written.append(store.record_final([draft(event, status=SKIPPED)])))
        writer.start()
        assert wait_until(lambda: waiting_on_a_lock(engine), timeout=10), "the batch write did not wait"
        release.set()
        writer.join(10)
    finally:
        release.set()
        sender.join(10)
    assert written == [set()]  # it waited for the send, then found the row final
    assert store.statuses([event]) == {event: SENT}
