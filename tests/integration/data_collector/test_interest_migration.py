"""Migration dc0004 (one interest of each kind per user and airport) on a database that already
has interests: created at the previous revision (dc0003), upgraded, then used by the service's
own code; and the downgrade, which refuses while a user has both kinds in one airport."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from flightctl.services.common import db
from flightctl.services.common.errors import Conflict
from flightctl.services.data_collector import service
from flightctl.services.data_collector.app import VERSIONS

AIRPORTS = {"LIRF": {}, "LIRA": {}, "LIMC": {}}
ROWS = [  # (user_email, airport_code, high_value, low_value, live, published_day)
    ("ada@example.com", "LIRF", 5, None, False, date(2026, 1, 4)),
    ("ada@example.com", "LIRA", 3, 1, True, None),
    ("bob@example.com", "LIRF", None, 2, False, None),
]
INSERT = text(
    "INSERT INTO user_interests (user_email, airport_code, high_value, low_value, live, published_day) "
    "VALUES (:e, :a, :h, :l, :live, :p)"
)


def alembic(engine: Engine, direction: str, revision: str) -> None:
    """Upgrade or downgrade to ``revision`` as the service does at start (the shared environment)."""
    config = db.alembic_config(VERSIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


@pytest.fixture
def blank(dc_engine: Engine) -> Iterator[Engine]:
    """An empty database, no revision applied."""
    name = f"dc_mig_{uuid.uuid4().hex[:10]}"
    with dc_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(dc_engine.url.render_as_string(hide_password=False)).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with dc_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def insert(engine: Engine, *rows: tuple[Any, ...]) -> None:
    with engine.begin() as connection:
        for e, a, h, low, live, p in rows:
            connection.execute(INSERT, {"e": e, "a": a, "h": h, "l": low, "live": live, "p": p})


def stored(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                text(
                    "SELECT user_email, airport_code, high_value, low_value, live, published_day FROM user_interests "
                    "ORDER BY user_email, airport_code, live"
                )
            )
        ]


def unique_keys(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {
            name: definition
            for name, definition in connection.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'user_interests'::regclass AND contype = 'u'"
                )
            )
        }


def test_existing_interests_survive_the_upgrade_and_keep_working(blank: Engine) -> None:
    alembic(blank, "upgrade", "dc0003")
    insert(blank, *ROWS)
    with pytest.raises(IntegrityError):  # the previous schema: one interest per user and airport
        insert(blank, ("ada@example.com", "LIRF", 9, None, True, None))

    alembic(blank, "upgrade", "head")
    assert stored(blank) == sorted(ROWS, key=lambda r: (r[0], r[1], r[4]))
    assert unique_keys(blank) == {"uq_interest_user_airport_kind": "UNIQUE (user_email, airport_code, live)"}

    factory = db.make_session_factory(blank)
    with db.transaction(factory) as session:  # the service's own code on the upgraded rows
        assert service.list_interests(session, "ADA@example.com")["interests"] == [
            {"airport_code": "LIRA", "high_value": 3, "low_value": 1, "live": True},
            {"airport_code": "LIRF", "high_value": 5, "low_value": None, "live": False},
        ]
        updated = service.update_interest(
            session, {"email": "ada@example.com", "airport_code": "LIRA", "live": True, "high_value": 4}, AIRPORTS
        )
        assert (updated["live"], updated["high_value"], updated["low_value"]) == (True, 4, 1)
        added = service.add_interest(
            session,
            {"email": "ada@example.com", "airport_code": "LIRF", "high_value": 30, "live": True},
            AIRPORTS,
            lambda _email: lambda: True,
        )
        assert added["live"] is True
        with pytest.raises(Conflict):
            service.add_interest(
                session, {"email": "bob@example.com", "airport_code": "LIRF"}, AIRPORTS, lambda _email: lambda: True
            )
    with db.transaction(factory) as session:
        daily = service.interests_with_thresholds(session, live=False)
        live = service.interests_with_thresholds(session, live=True)
        assert sorted((i.user_email, i.airport_code) for i in daily) == [
            ("ada@example.com", "LIRF"),
            ("bob@example.com", "LIRF"),
        ]
        assert sorted((i.airport_code, i.high_value) for i in live) == [("LIRA", 4), ("LIRF", 30)]
        assert service.remove_interest(session, {"email": "bob@example.com", "airport_code": "lirf"})


def test_the_downgrade_refuses_while_a_user_has_both_kinds_in_one_airport(blank: Engine) -> None:
    alembic(blank, "upgrade", "head")
    insert(blank, *ROWS, ("ada@example.com", "LIRF", 9, None, True, None))
    with pytest.raises(RuntimeError, match="both a daily and a live interest"):
        alembic(blank, "downgrade", "dc0003")
    assert len(stored(blank)) == 4  # nothing changed
    with blank.begin() as connection:
        connection.execute(text("DELETE FROM user_interests WHERE airport_code = 'LIRF' AND live"))
    alembic(blank, "downgrade", "dc0003")
    assert unique_keys(blank) == {"uq_interest_user_airport": "UNIQUE (user_email, airport_code)"}
    assert stored(blank) == sorted(ROWS, key=lambda r: (r[0], r[1], r[4]))
    alembic(blank, "upgrade", "head")
    assert stored(blank) == sorted(ROWS, key=lambda r: (r[0], r[1], r[4]))
