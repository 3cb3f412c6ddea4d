"""The alerting rule, pure: no database, no Kafka, no clock of its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flightctl.services.common.emails import normalize_email
from flightctl.services.common.kafka import MalformedMessage

OK, HIGH, LOW, RESOLVED = "ok", "high", "low", "resolved"
EVENT_NAMESPACE = uuid.UUID("6f1c3f0e-2b1a-4d59-9a53-8f0b5d1e7c21")


@dataclass(frozen=True)
class Reading:
    """A validated to-alert-system message."""

    event_id: str
    user_email: str
    airport_code: str
    flight_count: int
    high_value: int | None
    low_value: int | None
    source: str
    live: bool = False
    """A count of the aircraft near the airport now (absent: a daily count of flights)."""

    @classmethod
    def parse(cls, value: Any) -> Reading:
        if not isinstance(value, dict):
            raise MalformedMessage("value is not a JSON object")

        def text(name: str) -> str:
            item = value.get(name)
            if not isinstance(item, str) or not item:
                raise MalformedMessage(f"{name} must be a non-empty string")
            return item

        def count(name: str, required: bool) -> int | None:
            item = value.get(name)
            if item is None and not required:
                return None
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise MalformedMessage(f"{name} must be a non-negative integer")
            return item

        flight_count = count("flight_count", True)
        assert flight_count is not None
        return cls(
            event_id=text("event_id"),
            user_email=normalize_email(text("user_email")),
            airport_code=text("airport_code").upper(),
            flight_count=flight_count,
            high_value=count("high_value", False),
            low_value=count("low_value", False),
            source="mock" if value.get("source") == "mock" else "opensky",
            live=value.get("live") is True,
        )


@dataclass(frozen=True)
class Decision:
    state: str  # the new state: ok, high or low
    threshold: int | None  # the threshold of the new (or, for resolved, the old) breach
    alert: str | None  # high, low, resolved, or None for silence
    alerted_at: datetime | None  # the new last_alert_at


def breach_of(reading: Reading) -> tuple[str, int | None]:
    """High is checked before low."""
    if reading.high_value is not None and reading.flight_count > reading.high_value:
        return HIGH, reading.high_value
    if reading.low_value is not None and reading.flight_count < reading.low_value:
        return LOW, reading.low_value
    return OK, None


def decide(
    reading: Reading,
    previous_state: str,
    previous_threshold: int | None,
    last_alert_at: datetime | None,
    now: datetime,
    repeat: timedelta,
) -> Decision:
    """Fire on entering a breach, repeat an unchanged breach no sooner than ``repeat``
    (zero: every evaluation), and send one ``resolved`` when back inside the thresholds."""
    state, threshold = breach_of(reading)
    if state == OK:
        if previous_state in (HIGH, LOW):
            return Decision(OK, previous_threshold, RESOLVED, now)
        return Decision(OK, None, None, last_alert_at)
    if state != previous_state or last_alert_at is None:
        return Decision(state, threshold, state, now)
    if repeat <= timedelta(0) or now - last_alert_at >= repeat:
        return Decision(state, threshold, state, now)
    return Decision(state, threshold, None, last_alert_at)


def condition(kind: str, count: int, threshold: int | None, reading: Reading) -> str:
    if kind == HIGH:
        return f"The number of flights ({count}) exceeded the high threshold of {threshold}."
    if kind == LOW:
        return f"The number of flights ({count}) is below the low threshold of {threshold}."
    bounds = []
    if reading.low_value is not None:
        bounds.append(f"low {reading.low_value}")
    if reading.high_value is not None:
        bounds.append(f"high {reading.high_value}")
    return f"The number of flights ({count}) is back within the thresholds ({', '.join(bounds) or 'none set'})."


def notification(reading: Reading, decision: Decision) -> dict[str, Any]:
    """The to-notifier message; its event_id is derived from the input's, so a redelivered
    input produces the same id and the notifier drops the repeat."""
    assert decision.alert is not None
    return {
        "event_id": str(uuid.uuid5(EVENT_NAMESPACE, f"{reading.event_id}:{decision.alert}")),
        "user_email": reading.user_email,
        "airport_code": reading.airport_code,
        "kind": decision.alert,
        "flight_count": reading.flight_count,
        "threshold": decision.threshold,
        "condition": condition(decision.alert, reading.flight_count, decision.threshold, reading),
        "source": reading.source,
        "live": reading.live,
    }


# -- a batch of readings ----------------------------------------------------------------------

Key = tuple[str, str, bool]
"""(user_email, airport_code, live): what a state belongs to. A user's daily and live interests
in the same airport each have their own state."""


def key_of(reading: Reading) -> Key:
    return (reading.user_email, reading.airport_code, reading.live)


@dataclass(frozen=True)
class Stored:
    """A (user, airport, kind)'s state as recorded."""

    state: str
    threshold: int | None
    last_alert_at: datetime | None


NEVER_SEEN = Stored(OK, None, None)


@dataclass(frozen=True)
class Step:
    """One reading applied: the state it found, the decision, and the notification (if any)."""

    reading: Reading
    previous: str
    decision: Decision
    notification: dict[str, Any] | None

    @property
    def key(self) -> Key:
        return key_of(self.reading)


@dataclass(frozen=True)
class Folded:
    steps: list[Step]
    states: dict[Key, Stored]
    """The final state of every (user, airport, kind) a step moved."""
    duplicates: int
    """Readings dropped: already processed, or a repeat of one earlier in the batch."""


def fold(
    readings: list[Reading], stored: dict[Key, Stored], seen: set[str], now: datetime, repeat: timedelta
) -> Folded:
    """Apply ``readings`` in order, each against the state the previous ones left (a batch
    decides exactly as the same readings one at a time would, at the same ``now``); a reading
    whose event id is in ``seen`` or came earlier in the batch is dropped."""
    done = set(seen)
    current: dict[Key, Stored] = {}
    steps: list[Step] = []
    duplicates = 0
    for reading in readings:
        if reading.event_id in done:
            duplicates += 1
            continue
        done.add(reading.event_id)
        key = key_of(reading)
        previous = current.get(key) or stored.get(key) or NEVER_SEEN
        decision = decide(reading, previous.state, previous.threshold, previous.last_alert_at, now, repeat)
        current[key] = Stored(decision.state, decision.threshold, decision.alerted_at)
        message = notification(reading, decision) if decision.alert is not None else None
        steps.append(Step(reading, previous.state, decision, message))
    return Folded(steps, current, duplicates)
