"""alert-system's batch handler on the real PostgreSQL (the platform's alert_system database):
a batch is decided in order against the stored states, recorded in one transaction, and a
redelivered batch, before or after it was recorded, changes nothing downstream."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.alert_system.models import AlertState
from flightctl.services.alert_system.service import AlertEvaluator
from flightctl.services.common import db
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, TO_NOTIFIER, Incoming
from tests.conftest import Platform

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


@pytest.fixture()
def factory(platform: Platform) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(platform.database_url("alert-system"), pool_size=2)
    try:
        yield db.make_session_factory(engine)
    finally:
        engine.dispose()


def evaluator(factory: sessionmaker[Session], now: datetime = NOW) -> tuple[AlertEvaluator, CollectorRegistry]:
    registry = CollectorRegistry()
    return AlertEvaluator(factory, repeat=timedelta(hours=1), now=lambda: now, metrics=AlertMetrics(registry)), registry


def batch(email: str, *counts: int, first: int = 0) -> list[Incoming]:
    return [
        message(
            first + n,
            {
                "event_id": str(uuid.uuid4()),
                "user_email": email,
                "airport_code": "LIRA",
                "flight_count": count,
                "high_value": 4,
                "low_value": 1,
                "source": "opensky",
            },
        )
        for n, count in enumerate(counts)
    ]


def message(offset: int, value: dict[str, Any] | bytes) -> Incoming:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Incoming(TO_ALERT_SYSTEM, 0, offset, "LIRA", raw)


def state_of(factory: sessionmaker[Session], email: str) -> AlertState:
    with factory() as session:
        return session.scalars(select(AlertState).where(AlertState.user_email == email)).one()


def email() -> str:
    return f"batch-{uuid.uuid4().hex[:10]}@example.com"


def test_a_batch_is_decided_in_order_and_recorded_once(factory: sessionmaker[Session]) -> None:
    user = email()
    ev, registry = evaluator(factory)
    readings = batch(user, 9, 10, 2, 0)  # high, quiet repeat, resolved, low
    handled = ev.handle(readings)
    assert [o.value["kind"] for o in handled.outputs] == ["high", "resolved", "low"]
    assert {o.topic for o in handled.outputs} == {TO_NOTIFIER} and {o.key for o in handled.outputs} == {user}
    assert handled.summary == {"notifications": 3, "duplicates": 0}
    assert handled.commit is not None
    handled.commit()
    stored = state_of(factory, user)
    assert (stored.state, stored.threshold, stored.last_alert_at) == ("low", 1, NOW)
    assert registry.get_sample_value("alert_state_transitions_total", {"from_state": "ok", "to_state": "high"}) == 1
    assert registry.get_sample_value("alerts_emitted_total", {"kind": "resolved"}) == 1

    again = ev.handle(readings)  # redelivered after it was recorded: dropped
    assert (again.outputs, again.commit) == ([], None)
    assert again.summary == {"notifications": 0, "duplicates": 4}
    assert registry.get_sample_value("alert_duplicate_events_total") == 4
    quiet = ev.handle(batch(user, 0, first=4))  # the stored low state, inside the repeat interval
    assert quiet.outputs == []


def test_a_batch_redelivered_before_it_was_recorded_produces_the_same_notifications(
    factory: sessionmaker[Session],
) -> None:
    readings = batch(email(), 9, 2)
    ev, _ = evaluator(factory)
    first = ev.handle(readings)  # the process dies before commit()
    later, _ = evaluator(factory, NOW + timedelta(seconds=30))
    second = later.handle(readings)
    assert [o.value for o in second.outputs] == [o.value for o in first.outputs]  # same event ids too


def test_ids_another_instance_recorded_meanwhile_do_not_move_the_state(factory: sessionmaker[Session]) -> None:
    user = email()
    readings = batch(user, 9)
    ours, _ = evaluator(factory)
    theirs, _ = evaluator(factory, NOW + timedelta(minutes=5))
    handled_ours, handled_theirs = ours.handle(readings), theirs.handle(readings)  # both read first
    assert handled_ours.commit is not None and handled_theirs.commit is not None
    handled_ours.commit()
    handled_theirs.commit()  # the id is recorded already: nothing changes
    assert state_of(factory, user).updated_at == NOW


def test_malformed_readings_are_dead_letters_and_the_rest_is_decided(factory: sessionmaker[Session]) -> None:
    user = email()
    good = batch(user, 9)[0]
    handled = evaluator(factory)[0].handle([message(0, b"{"), good, message(2, {"event_id": "x"})])
    assert [d.message.offset for d in handled.dead_letters] == [0, 2]
    assert [o.value["kind"] for o in handled.outputs] == ["high"]


def kinds(user: str, *readings: tuple[int, bool], first: int = 0) -> list[Incoming]:
    """Readings of one user and airport, each (count, live); daily high 4 low 1, live high 20 low 2."""
    return [
        message(
            first + n,
            {
                "event_id": str(uuid.uuid4()),
                "user_email": user,
                "airport_code": "LIRA",
                "flight_count": count,
                "high_value": 20 if live else 4,
                "low_value": 2 if live else 1,
                "source": "opensky",
                "live": live,
            },
        )
        for n, (count, live) in enumerate(readings)
    ]


def states_of(factory: sessionmaker[Session], user: str) -> dict[bool, tuple[str, int | None, datetime | None]]:
    with factory() as session:
        rows = session.scalars(select(AlertState).where(AlertState.user_email == user))
        return {row.live: (row.state, row.threshold, row.last_alert_at) for row in rows}


def alerts(handled: Any) -> list[tuple[str, bool]]:
    return [(o.value["kind"], o.value["live"]) for o in handled.outputs]


def test_daily_and_live_readings_of_one_airport_keep_separate_states_in_a_batch_and_across_a_restart(
    factory: sessionmaker[Session],
) -> None:
    user = email()
    ev, _ = evaluator(factory)
    # one batch: each kind enters its breach once; the other kind's reading is no repeat of it
    first = ev.handle(kinds(user, (9, False), (25, True), (10, False), (26, True)))
    assert alerts(first) == [("high", False), ("high", True)]
    assert first.commit is not None
    first.commit()
    assert states_of(factory, user) == {False: ("high", 4, NOW), True: ("high", 20, NOW)}

    # a restart: a new evaluator (a new process) reads both states back
    later = NOW + timedelta(minutes=30)
    restarted, _ = evaluator(factory, later)
    quiet = restarted.handle(kinds(user, (9, False), (27, True), first=4))  # inside the repeat interval
    assert alerts(quiet) == []
    assert quiet.commit is not None
    quiet.commit()
    live_resolves = restarted.handle(kinds(user, (10, True), (9, False), first=6))  # live back inside
    assert alerts(live_resolves) == [("resolved", True)]
    assert live_resolves.commit is not None
    live_resolves.commit()
    assert states_of(factory, user) == {False: ("high", 4, NOW), True: ("ok", 20, later)}

    # another restart, past the repeat interval: the daily breach repeats on its own clock, the live
    # state (ok) stays quiet, and then each kind enters a low breach and resolves on its own
    much_later = NOW + timedelta(hours=1, minutes=1)
    again, _ = evaluator(factory, much_later)
    handled = again.handle(kinds(user, (11, True), (9, False), (1, True), (2, False), (0, False), (5, True), first=8))
    assert alerts(handled) == [("high", False), ("low", True), ("resolved", False), ("low", False), ("resolved", True)]
    assert handled.commit is not None
    handled.commit()
    assert states_of(factory, user) == {False: ("low", 1, much_later), True: ("ok", 2, much_later)}
