"""Adding an interest asks user-manager whether the user exists while the row is inserted (on
the platform's real database, with the question answered by the test): the answer still
decides first, and a refused interest leaves no row."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from flightctl.services.common import db
from flightctl.services.common.errors import Conflict, NotFound, Unavailable
from flightctl.services.data_collector import service
from flightctl.services.data_collector.models import Interest

AIRPORTS = {"LIRF": {}}


class Lookup:
    """A user-manager that knows ``known`` and logs when it is asked and when it is heard."""

    def __init__(self, events: list[str], *, known: bool, failure: Exception | None = None) -> None:
        self.events, self.known, self.failure = events, known, failure

    def __call__(self, _email: str) -> Callable[[], bool]:
        self.events.append("asked")

        def answer() -> bool:
            self.events.append("heard")
            if self.failure is not None:
                raise self.failure
            return self.known

        return answer


def stored(engine: Engine, email: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).where(Interest.user_email == email)) or 0)


def add(engine: Engine, email: str, lookup: Lookup) -> dict[str, Any]:
    factory = db.make_session_factory(engine)
    with db.transaction(factory) as session:
        payload = {"email": email, "airport_code": "LIRF", "high_value": 5}
        return service.add_interest(session, payload, AIRPORTS, lookup)


@pytest.fixture
def logged(dc_engine: Engine) -> Iterator[list[str]]:
    """The lookup's events, with "insert" where the interest's INSERT reached PostgreSQL."""
    events: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO user_interests"):
            events.append("insert")

    event.listen(dc_engine, "before_cursor_execute", before)
    yield events
    event.remove(dc_engine, "before_cursor_execute", before)


def test_the_user_is_asked_before_the_insert_and_heard_after_it(dc_engine: Engine, logged: list[str]) -> None:
    email = f"check-{uuid.uuid4().hex[:10]}@example.com"
    assert add(dc_engine, email, Lookup(logged, known=True))["message"] == "Interest added successfully"
    assert logged == ["asked", "insert", "heard"]
    with pytest.raises(Conflict):
        add(dc_engine, email, Lookup(logged, known=True))
    assert stored(dc_engine, email) == 1


def test_an_unknown_user_is_404_and_leaves_no_row(dc_engine: Engine, logged: list[str]) -> None:
    email = f"check-{uuid.uuid4().hex[:10]}@example.com"
    with pytest.raises(NotFound, match="does not exist"):
        add(dc_engine, email, Lookup(logged, known=False))
    assert stored(dc_engine, email) == 0


def test_an_unknown_user_is_404_even_when_the_interest_exists(dc_engine: Engine, logged: list[str]) -> None:
    # e.g. a deleted user whose interests user-manager's outbox has not removed yet
    email = f"check-{uuid.uuid4().hex[:10]}@example.com"
    add(dc_engine, email, Lookup(logged, known=True))
    with pytest.raises(NotFound):
        add(dc_engine, email, Lookup(logged, known=False))
    assert stored(dc_engine, email) == 1


def test_no_answer_is_503_and_leaves_no_row(dc_engine: Engine, logged: list[str]) -> None:
    email = f"check-{uuid.uuid4().hex[:10]}@example.com"
    with pytest.raises(Unavailable):
        add(dc_engine, email, Lookup(logged, known=True, failure=Unavailable("user-manager could not be reached")))
    assert stored(dc_engine, email) == 0
