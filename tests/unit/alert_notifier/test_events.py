"""Validation of to-notifier and sla_breach values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flightctl.services.alert_notifier.consumer import make_handler
from flightctl.services.alert_notifier.events import AlertEvent, SlaEvent, parse_event
from flightctl.services.alert_notifier.service import BatchReport, DeliveryPending
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


class Recorder:
    """A notifier that records the events of each batch and hands back those in ``retry``."""

    def __init__(self, retry: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[Any]] = []
        self.retry = retry

    def deliver_batch(self, events: list[Any]) -> BatchReport:
        self.batches.append(list(events))
        report = BatchReport()
        for event in events:
            if event.event_id in self.retry:
                report.retry[event.event_id] = DeliveryPending("later")
            else:
                report.counts["sent"] += 1
        return report


def message(offset: int, value: Any, topic: str = TO_NOTIFIER) -> Incoming:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Incoming(topic=topic, partition=0, offset=offset, key=None, value=raw)


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b'["a list"]', b'{"event_id": "x"}'])
def test_undecodable_or_incomplete_messages_are_dead_letters_and_never_delivered(raw: bytes) -> None:
    notifier = Recorder()
    handled = make_handler(notifier)([message(1, raw)])  # type: ignore[arg-type]
    assert [(d.message.offset, bool(d.reason)) for d in handled.dead_letters] == [(1, True)]
    assert notifier.batches == []
    assert handled.retry == []


def test_a_poison_message_does_not_hold_the_batch_back() -> None:
    notifier = Recorder()
    batch = [message(1, alert(event_id="a")), message(2, b"not json"), message(3, breach(), topic=SLA_BREACH)]
    handled = make_handler(notifier)(batch)  # type: ignore[arg-type]
    assert [d.message.offset for d in handled.dead_letters] == [2]
    assert [[e.event_id for e in b] for b in notifier.batches] == [["a", "s-1"]]  # one batch, in order
    assert handled.outputs == [] and handled.commit is None
    assert handled.summary == {"sent": 2}


def test_events_that_could_not_be_delivered_now_are_handed_back_to_retry() -> None:
    notifier = Recorder(retry=frozenset({"b"}))
    batch = [message(1, alert(event_id="a")), message(2, alert(event_id="b")), message(3, alert(event_id="b"))]
    handled = make_handler(notifier)(batch)  # type: ignore[arg-type]
    assert [m.offset for m in handled.retry] == [2, 3]


def test_fields_the_notifier_does_not_know_are_ignored() -> None:
    # A producer may add fields the notifier does not know yet; the event is the same.
    assert parse_event(TO_NOTIFIER, alert(shown_at="gate 4", extra={"a": 1})) == parse_event(TO_NOTIFIER, alert())
    assert parse_event(SLA_BREACH, breach(new_field="x")) == parse_event(SLA_BREACH, breach())
