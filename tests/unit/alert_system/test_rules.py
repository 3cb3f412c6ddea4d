from datetime import UTC, datetime, timedelta

import pytest

from flightctl.services.alert_system import rules
from flightctl.services.common.kafka import MalformedMessage

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def reading(count: int, high: int | None = 5, low: int | None = 1, event: str = "e1") -> rules.Reading:
    return rules.Reading.parse(
        {
            "event_id": event,
            "user_email": "a@b.it",
            "airport_code": "lirf",
            "flight_count": count,
            "high_value": high,
            "low_value": low,
            "source": "opensky",
        }
    )


def test_entering_a_high_breach_fires_once_then_waits_for_the_repeat_interval() -> None:
    first = rules.decide(reading(10), rules.OK, None, None, NOW, HOUR)
    assert (first.state, first.alert, first.threshold) == ("high", "high", 5)
    quiet = rules.decide(reading(11), "high", 5, first.alerted_at, NOW + timedelta(minutes=30), HOUR)
    assert quiet.alert is None and quiet.alerted_at == first.alerted_at
    repeated = rules.decide(reading(11), "high", 5, first.alerted_at, NOW + HOUR, HOUR)
    assert repeated.alert == "high"


def test_zero_repeat_alerts_on_every_evaluation() -> None:
    assert rules.decide(reading(10), "high", 5, NOW, NOW, timedelta(0)).alert == "high"


def test_high_is_checked_before_low() -> None:
    assert rules.breach_of(reading(0, high=5, low=1)) == ("low", 1)
    both = rules.Reading("e", "a@b.it", "LIRF", 3, high_value=2, low_value=5, source="opensky")
    assert rules.breach_of(both) == ("high", 2)


def test_back_inside_sends_one_resolved_naming_the_old_threshold() -> None:
    resolved = rules.decide(reading(3), "high", 5, NOW, NOW + timedelta(minutes=5), HOUR)
    assert (resolved.state, resolved.alert, resolved.threshold) == ("ok", "resolved", 5)
    assert rules.decide(reading(3), "ok", None, NOW, NOW, HOUR).alert is None


def test_switching_from_low_to_high_fires_at_once() -> None:
    assert rules.decide(reading(10), "low", 1, NOW, NOW + timedelta(seconds=1), HOUR).alert == "high"


def test_notification_wording_and_deterministic_event_id() -> None:
    message = rules.notification(reading(10), rules.decide(reading(10), "ok", None, None, NOW, HOUR))
    assert message["condition"] == "The number of flights (10) exceeded the high threshold of 5."
    assert message["kind"] == "high" and message["threshold"] == 5
    again = rules.notification(reading(10), rules.decide(reading(10), "ok", None, None, NOW, HOUR))
    assert again["event_id"] == message["event_id"]
    low = rules.notification(reading(0), rules.decide(reading(0), "ok", None, None, NOW, HOUR))
    assert low["condition"] == "The number of flights (0) is below the low threshold of 1."


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"event_id": "x"},
        {"event_id": "x", "user_email": "a", "airport_code": "LIRF", "flight_count": -1},
        {"event_id": "x", "user_email": "a", "airport_code": "LIRF", "flight_count": "3"},
        {"event_id": "x", "user_email": "a", "airport_code": "LIRF", "flight_count": 3, "high_value": True},
    ],
)
def test_malformed_readings_are_refused(value: object) -> None:
    with pytest.raises(MalformedMessage):
        rules.Reading.parse(value)
