"""Migration as0002 (alert state per user, airport and kind) on a database that already has
states: created at the previous revision (as0001), upgraded, then used by alert-system's own
batch handler; and the downgrade back to one state per (user, airport)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, text

from flightctl.services.alert_system.app import VERSIONS
from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.alert_system.service import AlertEvaluator
from flightctl.services.common import db
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, Incoming
from tests.conftest import Platform

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def alembic(engine: Engine, direction: str, revision: str) -> None:
    """Upgrade or downgrade to ``revision`` as the service does at start (the shared environment)."""
    config = db.alembic_config(VERSIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


@pytest.fixture
def blank(platform: Platform) -> Iterator[Engine]:
    """An empty database beside the platform's alert_system, no revision applied."""
    admin = create_engine(platform.database_url("alert-system"), isolation_level="AUTOCOMMIT")
    name = f"as_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(admin.url.set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def states(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                text(
                    "SELECT user_email, airport_code, live, state, threshold, last_alert_at FROM alert_state "
                    "ORDER BY user_email, airport_code, live"
                )
            )
        ]


def primary_key(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'alert_state'::regclass AND contype = 'p'"
                )
            ).scalar_one()
        )


def reading(n: int, user: str, airport: str, count: int, high: int, low: int | None, live: bool) -> Incoming:
    value = {
        "event_id": str(uuid.uuid4()),
        "user_email": user,
        "airport_code": airport,
        "flight_count": count,
        "high_value": high,
        "low_value": low,
        "source": "opensky",
        "live": live,
    }
    return Incoming(TO_ALERT_SYSTEM, 0, n, airport, json.dumps(value).encode())


def test_existing_states_become_daily_states_and_keep_working(blank: Engine) -> None:
    alembic(blank, "upgrade", "as0001")
    recent, earlier = NOW - timedelta(minutes=10), NOW - timedelta(hours=2)
    with blank.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO alert_state (user_email, airport_code, state, threshold, last_alert_at, updated_at) "
                "VALUES (:e, :a, :s, :t, :at, :at)"
            ),
            [
                {"e": "ada@example.com", "a": "LIRF", "s": "high", "t": 5, "at": recent},
                {"e": "bob@example.com", "a": "LIMC", "s": "low", "t": 1, "at": earlier},
            ],
        )

    alembic(blank, "upgrade", "head")
    assert primary_key(blank) == "PRIMARY KEY (user_email, airport_code, live)"
    assert states(blank) == [
        ("ada@example.com", "LIRF", False, "high", 5, recent),
        ("bob@example.com", "LIMC", False, "low", 1, earlier),
    ]

    evaluator = AlertEvaluator(
        db.make_session_factory(blank),
        repeat=timedelta(hours=1),
        now=lambda: NOW,
        metrics=AlertMetrics(CollectorRegistry()),
    )
    handled = evaluator.handle(
        [
            reading(0, "ada@example.com", "LIRF", 9, 5, None, live=False),  # the stored breach: quiet
            reading(1, "ada@example.com", "LIRF", 9, 5, None, live=True),  # a state of its own: fires
            reading(2, "bob@example.com", "LIMC", 0, 9, 1, live=False),  # the stored breach, repeat due
        ]
    )
    assert [(o.value["user_email"], o.value["kind"], o.value["live"]) for o in handled.outputs] == [
        ("ada@example.com", "high", True),
        ("bob@example.com", "low", False),
    ]
    assert handled.commit is not None
    handled.commit()
    assert states(blank) == [
        ("ada@example.com", "LIRF", False, "high", 5, recent),
        ("ada@example.com", "LIRF", True, "high", 5, NOW),
        ("bob@example.com", "LIMC", False, "low", 1, NOW),
    ]

    # back to one state per (user, airport): the daily state is the one kept
    alembic(blank, "downgrade", "as0001")
    with blank.connect() as connection:
        rows = connection.execute(text("SELECT user_email, airport_code, state FROM alert_state ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [("ada@example.com", "LIRF", "high"), ("bob@example.com", "LIMC", "low")]
    assert primary_key(blank) == "PRIMARY KEY (user_email, airport_code)"
