"""The test-only crash points of alert-system are inert unless named, and crash exactly where
they say (the crash is replaced by a recorder here)."""

from __future__ import annotations

from typing import Any

import pytest

from flightctl.services.alert_system import faults
from flightctl.services.alert_system.settings import Settings
from flightctl.services.common.errors import ConfigError
from flightctl.services.common.kafka import Handled, Incoming, Outgoing

BASE = {"DATABASE_URL": "postgresql+psycopg://a:b@127.0.0.1/alert_system", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
MESSAGE = Incoming(topic="to-alert-system", partition=0, offset=1, key=None, value=b"{}")
OUT = [Outgoing("to-notifier", "k", {"event_id": "e"})]


def test_unset_or_another_service_is_inert() -> None:
    assert Settings.from_env(BASE).fault_inject is None
    assert Settings.from_env({**BASE, "FLIGHTCTL_FAULT_INJECT": "alert-notifier:before-send"}).fault_inject is None
    handler = faults.with_crash_point(lambda m: Handled(OUT), None)
    assert handler([MESSAGE]).outputs == OUT


def test_an_unknown_point_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="FLIGHTCTL_FAULT_INJECT"):
        Settings.from_env({**BASE, "FLIGHTCTL_FAULT_INJECT": "alert-system:somewhere"})
    assert Settings.from_env({**BASE, "FLIGHTCTL_FAULT_INJECT": "alert-system:after-produce"}).fault_inject == (
        "after-produce"
    )


@pytest.mark.parametrize(
    ("point", "until_crash"),
    [
        ("before-produce", ["handled", "crash"]),  # the runner has produced nothing yet
        ("after-produce", ["handled", "produced", "crash"]),  # before the state is recorded
        ("after-record", ["handled", "produced", "record", "crash"]),  # before the offset commit
    ],
)
def test_each_point_crashes_where_it_says(point: str, until_crash: list[str]) -> None:
    events: list[str] = []

    def decide(messages: list[Incoming]) -> Handled:
        events.append("handled")
        return Handled(OUT, lambda: events.append("record"))

    handled = faults.with_crash_point(decide, point, crash=lambda: events.append("crash"))([MESSAGE])
    if "crash" not in events:
        events.append("produced")  # what the runner does between handler and commit
        assert handled.commit is not None
        handled.commit()
    first = events.index("crash")
    assert events[: first + 1] == until_crash
    assert handled.outputs == OUT


def test_nothing_to_produce_never_crashes() -> None:
    handled = faults.with_crash_point(lambda m: Handled(), "before-produce", crash=lambda: pytest.fail("crashed"))(
        [MESSAGE]
    )
    assert handled.outputs == []


class Future:
    def get(self, timeout: float | None = None) -> None:
        return None


class RecordingProducer:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None) -> Future:
        self.events.append(f"send {topic} {value!r}")
        return Future()

    def flush(self, timeout: float | None = None) -> None:
        self.events.append("flush")


def test_mid_produce_crashes_once_the_first_notification_of_a_batch_is_on_the_broker() -> None:
    events: list[str] = []
    producer = faults.with_crashing_producer(
        RecordingProducer(events), "mid-produce", crash=lambda: events.append("crash")
    )
    producer.send("to-notifier", value=b"1")
    producer.send("to-notifier", value=b"2")
    assert events == ["send to-notifier b'1'", "flush", "crash", "send to-notifier b'2'"]
    producer.flush()
    events.clear()
    producer.send("to-alert-system.dlq", value=b"x")  # a dead letter is not a notification
    producer.send("to-notifier", value=b"3")  # the first of the next batch
    assert "crash" not in events


def test_mid_produce_is_the_producers_point_only() -> None:
    inner = RecordingProducer([])
    assert faults.with_crashing_producer(inner, "after-produce") is inner
    assert faults.with_crashing_producer(inner, None) is inner
    handler = faults.with_crash_point(lambda m: Handled(OUT), "mid-produce", crash=lambda: pytest.fail("crashed"))
    assert handler([MESSAGE]).outputs == OUT
