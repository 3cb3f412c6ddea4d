"""Interest input handling that needs no database: the kind (``live``) picked by PUT and DELETE
is validated before anything is read or written, and the model's key names the kind."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import UniqueConstraint

from flightctl.services.common.errors import InvalidInput
from flightctl.services.data_collector import service
from flightctl.services.data_collector.models import Interest

AIRPORTS = {"LIRF": {}}


class NoSession:
    """A session that fails the test when used: the input must be refused before."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the session was used ({name}) for an invalid request")


@pytest.mark.parametrize(("value", "expected"), [(None, False), (False, False), (True, True)])
def test_live_defaults_to_the_daily_interest(value: object, expected: bool) -> None:
    assert service.live_flag(value) is expected


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, [], {}])
def test_live_must_be_a_boolean(value: object) -> None:
    with pytest.raises(InvalidInput, match="live"):
        service.live_flag(value)


@pytest.mark.parametrize("value", ["true", 1])
def test_put_and_delete_refuse_a_bad_live_before_touching_the_database(value: object) -> None:
    key = {"email": "ada@example.com", "airport_code": "LIRF", "live": value}
    with pytest.raises(InvalidInput, match="live"):
        service.update_interest(NoSession(), {**key, "high_value": 3}, AIRPORTS)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="live"):
        service.remove_interest(NoSession(), key)  # type: ignore[arg-type]


def test_an_interest_is_unique_per_user_airport_and_kind() -> None:
    uniques = [c for c in Interest.__table__.constraints if isinstance(c, UniqueConstraint)]
    assert [(c.name, [col.name for col in c.columns]) for c in uniques] == [
        ("uq_interest_user_airport_kind", ["user_email", "airport_code", "live"])
    ]
