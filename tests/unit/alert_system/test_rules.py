from datetime import UTC, datetime, timedelta

import pytest

from flightctl.services.alert_system import rules
from flightctl.services.alert_system.models import AlertState
from flightctl.services.common.kafka import MalformedMessage

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def reading(
    count: int, high: int | None = 5, low: int | None = 1, event: str = "e1", *, live: bool | None = None
) -> rules.Reading:
    value = {
        "event_id": event,
        "user_email": "a@b.it",
        "airport_code": "lirf",
        "flight_count": count,
        "high_value": high,
        "low_value": low,
        "source": "opensky",
    }
    if live is not None:
        value["live"] = live
    return rules.Reading.parse(value)


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


def test_fields_the_rule_does_not_know_are_ignored() -> None:
    value = {
        "event_id": "e1",
        "user_email": "a@b.it",
        "airport_code": "LIRF",
        "flight_count": 3,
        "high_value": 2,
        "low_value": None,
        "source": "opensky",
    }
    assert rules.Reading.parse({**value, "runway": "16L", "something": [1]}) == rules.Reading.parse(value)


# -- a batch -------------------------------------------------------------------------------------


def one_at_a_time(readings: list[rules.Reading], now: datetime, repeat: timedelta) -> list[str | None]:
    """The alerts the same readings cause when each is decided alone against the state the
    previous one recorded (what alert-system did before batches)."""
    stored: dict[rules.Key, rules.Stored] = {}
    alerts = []
    for r in readings:
        previous = stored.get(rules.key_of(r), rules.NEVER_SEEN)
        d = rules.decide(r, previous.state, previous.threshold, previous.last_alert_at, now, repeat)
        stored[rules.key_of(r)] = rules.Stored(d.state, d.threshold, d.alerted_at)
        alerts.append(d.alert)
    return alerts


def test_a_batch_decides_each_reading_against_the_state_the_previous_ones_left() -> None:
    counts = [6, 7, 3, 0, 0, 9, 3]  # high, quiet repeat, resolved, low, quiet, high, resolved
    readings = [reading(c, event=f"e{n}") for n, c in enumerate(counts)]
    folded = rules.fold(readings, {}, set(), NOW, HOUR)
    assert [s.decision.alert for s in folded.steps] == ["high", None, "resolved", "low", None, "high", "resolved"]
    assert [s.decision.alert for s in folded.steps] == one_at_a_time(readings, NOW, HOUR)
    assert [s.previous for s in folded.steps] == ["ok", "high", "high", "ok", "low", "low", "high"]
    assert folded.states == {("a@b.it", "LIRF", False): rules.Stored("ok", 5, NOW)}
    notes = [s.notification for s in folded.steps if s.notification]
    assert [n["kind"] for n in notes] == ["high", "resolved", "low", "high", "resolved"]


def test_zero_repeat_alerts_on_every_reading_of_a_batch() -> None:
    folded = rules.fold([reading(9, event="a"), reading(9, event="b")], {}, set(), NOW, timedelta(0))
    assert [s.decision.alert for s in folded.steps] == ["high", "high"]


def test_a_batch_starts_from_the_stored_state_and_keys_are_independent() -> None:
    other = rules.Reading("x", "z@b.it", "LIMC", 0, high_value=None, low_value=1, source="mock")
    stored = {("a@b.it", "LIRF", False): rules.Stored("high", 5, NOW - timedelta(minutes=10))}
    folded = rules.fold([reading(8, event="a"), other, reading(2, event="b")], stored, set(), NOW, HOUR)
    assert [(s.key, s.decision.alert) for s in folded.steps] == [
        (("a@b.it", "LIRF", False), None),  # still high, inside the repeat interval
        (("z@b.it", "LIMC", False), "low"),
        (("a@b.it", "LIRF", False), "resolved"),
    ]
    assert folded.steps[1].notification is not None and folded.steps[1].notification["source"] == "mock"


def test_processed_and_repeated_ids_are_dropped_and_counted() -> None:
    folded = rules.fold(
        [reading(9, event="seen"), reading(9, event="new"), reading(9, event="new")], {}, {"seen"}, NOW, HOUR
    )
    assert [s.reading.event_id for s in folded.steps] == ["new"]
    assert folded.duplicates == 2


def test_a_redelivered_batch_yields_the_same_notification_ids() -> None:
    readings = [reading(9, event="a"), reading(1, event="b")]
    first = [s.notification for s in rules.fold(readings, {}, set(), NOW, HOUR).steps]
    again = [s.notification for s in rules.fold(readings, {}, set(), NOW + timedelta(seconds=5), HOUR).steps]
    assert [n["event_id"] for n in first if n] == [n["event_id"] for n in again if n]


# -- a daily and a live interest in the same airport ------------------------------------------


def test_the_key_is_user_airport_and_kind_and_an_absent_live_is_daily() -> None:
    assert rules.key_of(reading(3)) == ("a@b.it", "LIRF", False)
    assert rules.key_of(reading(3, live=False)) == ("a@b.it", "LIRF", False)
    assert rules.key_of(reading(3, live=True)) == ("a@b.it", "LIRF", True)


def test_daily_and_live_readings_of_one_user_and_airport_keep_separate_states_in_a_batch() -> None:
    def daily(count: int, event: str) -> rules.Reading:
        return reading(count, event=event)

    def live(count: int, event: str) -> rules.Reading:
        return reading(count, high=20, low=2, event=event, live=True)

    readings = [
        daily(9, "d1"),  # daily: high
        live(25, "l1"),  # live: high of its own, not a quiet repeat of the daily one
        daily(3, "d2"),  # daily: resolved; the live state stays high
        live(26, "l2"),  # live: still high, quiet (inside the repeat interval)
        live(0, "l3"),  # live: high -> low
        daily(3, "d3"),  # daily: still ok, quiet
    ]
    folded = rules.fold(readings, {}, set(), NOW, HOUR)
    assert [(s.reading.event_id, s.previous, s.decision.alert) for s in folded.steps] == [
        ("d1", "ok", "high"),
        ("l1", "ok", "high"),
        ("d2", "high", "resolved"),
        ("l2", "high", None),
        ("l3", "high", "low"),
        ("d3", "ok", None),
    ]
    assert [s.decision.alert for s in folded.steps] == one_at_a_time(readings, NOW, HOUR)
    assert folded.states == {
        ("a@b.it", "LIRF", False): rules.Stored("ok", None, NOW),  # d3 found it ok: nothing to name
        ("a@b.it", "LIRF", True): rules.Stored("low", 2, NOW),
    }
    live_notes = [s.notification for s in folded.steps if s.notification and s.reading.live]
    assert [(n["kind"], n["live"], n["threshold"]) for n in live_notes] == [("high", True, 20), ("low", True, 2)]


def test_each_kind_repeats_and_resolves_from_its_own_stored_state() -> None:
    earlier = NOW - timedelta(minutes=90)
    stored = {
        ("a@b.it", "LIRF", False): rules.Stored("high", 5, earlier),  # repeat due
        ("a@b.it", "LIRF", True): rules.Stored("high", 20, NOW - timedelta(minutes=5)),  # repeat not due
    }
    folded = rules.fold([reading(9, event="d"), reading(30, high=20, event="l", live=True)], stored, set(), NOW, HOUR)
    assert [(s.key, s.decision.alert) for s in folded.steps] == [
        (("a@b.it", "LIRF", False), "high"),
        (("a@b.it", "LIRF", True), None),
    ]
    resolved = rules.fold([reading(10, high=20, event="r", live=True)], stored, set(), NOW, HOUR)
    assert [(s.key, s.decision.alert, s.decision.threshold) for s in resolved.steps] == [
        (("a@b.it", "LIRF", True), "resolved", 20)
    ]
    assert set(resolved.states) == {("a@b.it", "LIRF", True)}  # the daily state is not touched


def test_the_stored_state_is_keyed_by_user_airport_and_kind() -> None:
    assert [c.name for c in AlertState.__table__.primary_key.columns] == ["user_email", "airport_code", "live"]
