"""Validation of to-notifier and sla_breach values."""

from __future__ import annotations

from typing import Any

import pytest

from flightctl.services.alert_notifier.consumer import make_handler
from flightctl.services.alert_notifier.events import AlertEvent, SlaEvent, parse_event
from flightctl.services.common.kafka import SLA_BREACH, TO_NOTIFIER, Incoming, MalformedMessage


def alert(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "e-1",
        "user_email": "ada@example.com",
        "airport_code": "lirf",
        "kind": "high",
        "flight_count": 10,
        "threshold": 2,
        "condition": "The number of flights (10) exceeded the high threshold of 2.",
        "source": "opensky",
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not ...}


def breach(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "s-1",
        "timestamp": "2026-01-01T00:00:00Z",
        "metric": "http_request_duration_seconds",
        "query": "histogram_quantile(0.95, ...)",
        "observed_value": 2.5,
        "threshold_violated": 1,
        "breach_type": "high",
        "violations_count": 3,
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not ...}


def test_a_valid_alert_is_parsed() -> None:
    event = parse_event(TO_NOTIFIER, alert())
    assert event == AlertEvent(
        event_id="e-1",
        user_email="ada@example.com",
        airport_code="LIRF",
        kind="high",
        flight_count=10,
        threshold=2,
        condition="The number of flights (10) exceeded the high threshold of 2.",
        source="opensky",
    )


def test_condition_and_source_are_optional_and_resolved_needs_no_threshold() -> None:
    event = parse_event(TO_NOTIFIER, alert(kind="resolved", threshold=None, condition=..., source=...))
    assert isinstance(event, AlertEvent)
    assert (event.threshold, event.condition, event.source) == (None, None, None)


def test_a_valid_breach_is_parsed_with_labels() -> None:
    event = parse_event(SLA_BREACH, breach(labels={"job": "notifier", "code": 500}))
    assert isinstance(event, SlaEvent)
    assert event.observed_value == 2.5
    assert event.threshold_violated == 1.0
    assert event.labels == {"job": "notifier", "code": "500"}


@pytest.mark.parametrize(
    "value",
    [
        [],
        "text",
        alert(event_id=...),
        alert(event_id=""),
        alert(event_id=7),
        alert(user_email=...),
        alert(airport_code=None),
        alert(kind="medium"),
        alert(flight_count="10"),
        alert(flight_count=-1),
        alert(flight_count=True),
        alert(flight_count=1.5),
        alert(threshold=...),
        alert(threshold="2"),
        alert(condition=3),
        alert(source=["mock"]),
    ],
)
def test_a_bad_alert_is_malformed(value: Any) -> None:
    with pytest.raises(MalformedMessage):
        parse_event(TO_NOTIFIER, value)


@pytest.mark.parametrize(
    "value",
    [
        breach(event_id=...),
        breach(metric=""),
        breach(query=None),
        breach(observed_value="2.5"),
        breach(observed_value=float("nan")),
        breach(threshold_violated=False),
        breach(breach_type="sideways"),
        breach(violations_count=2.0),
        breach(timestamp=None),
        breach(labels=["a"]),
    ],
)
def test_a_bad_breach_is_malformed(value: Any) -> None:
    with pytest.raises(MalformedMessage):
        parse_event(SLA_BREACH, value)


def test_an_unknown_topic_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        parse_event("to-alert-system", alert())


class NeverCalled:
    def deliver(self, event: object) -> None:
        raise AssertionError("a malformed message must not be delivered")


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b'["a list"]', b'{"event_id": "x"}'])
def test_the_handler_calls_undecodable_or_incomplete_messages_malformed(raw: bytes) -> None:
    handle = make_handler(NeverCalled())  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage):
        handle(Incoming(topic=TO_NOTIFIER, partition=0, offset=1, key=None, value=raw))


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []

    def deliver(self, event: object) -> None:
        self.events.append(event)


def test_the_handler_delivers_and_produces_nothing() -> None:
    import json

    notifier = Recorder()
    handle = make_handler(notifier)  # type: ignore[arg-type]
    handled = handle(Incoming(SLA_BREACH, 0, 5, "metric", json.dumps(breach()).encode()))
    assert handled.outputs == []
    assert handled.commit is None
    assert [e.event_id for e in notifier.events] == ["s-1"]  # type: ignore[attr-defined]
