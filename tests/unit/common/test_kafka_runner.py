"""The batch runner against an in-memory broker: the order of its steps (handle, produce,
one flush, record, one offset commit), dead letters that never hold a batch back, the error
policies, and at-least-once with dedupe when the process dies between any two steps."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaTimeoutError
from prometheus_client import CollectorRegistry

from flightctl.services.common.kafka import (
    Handled,
    Incoming,
    KafkaRunner,
    MalformedMessage,
    Outgoing,
    decode_all,
)
from flightctl.services.common.metrics import KafkaMetrics

IN, OUT = "in", "out"


class Crash(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Broker:
    def __init__(self, partitions: int = 2) -> None:
        self.logs: dict[TopicPartition, list[Record]] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.partitions = partitions

    def append(self, topic: str, partition: int, value: bytes, key: bytes | None = None, headers: Any = None) -> None:
        log = self.logs.setdefault(TopicPartition(topic, partition), [])
        log.append(Record(topic, partition, len(log), key, value, list(headers or [])))

    def values(self, topic: str) -> list[Any]:
        return [
            json.loads(r.value) if r.value.startswith(b"{") else r.value
            for tp, log in sorted(self.logs.items())
            if tp.topic == topic
            for r in log
        ]


class Future:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


class FakeProducer:
    """Buffers sends; a flush puts them on the broker. ``fail`` makes every send's ack fail."""

    def __init__(self, broker: Broker, steps: list[str]) -> None:
        self.broker = broker
        self.steps = steps
        self.buffer: list[tuple[str, bytes | None, bytes | None, Any]] = []
        self.fail: Exception | None = None
        self.on_send: Callable[[int], None] = lambda n: None

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None) -> Future:
        self.on_send(len(self.buffer) + 1)
        self.steps.append(f"send {topic}")
        self.buffer.append((topic, value, key, headers))
        return Future(self.fail)

    def flush(self, timeout: float | None = None) -> None:
        self.steps.append("flush")
        if self.fail is None:
            for topic, value, key, headers in self.buffer:
                self.broker.append(topic, 0, value or b"", key, headers)
        self.buffer.clear()


class FakeConsumer:
    def __init__(self, broker: Broker, steps: list[str]) -> None:
        self.broker = broker
        self.steps = steps
        self.positions: dict[TopicPartition, int] = {}
        self.commit_error: BaseException | None = None

    def subscribe(self, topics: list[str]) -> None:
        for p in range(self.broker.partitions):
            tp = TopicPartition(IN, p)
            self.positions[tp] = self.broker.committed.get(tp, 0)

    def poll(self, timeout_ms: int = 0, max_records: int = 500) -> dict[TopicPartition, list[Record]]:
        out: dict[TopicPartition, list[Record]] = {}
        left = max_records
        for tp, position in sorted(self.positions.items()):
            records = self.broker.logs.get(tp, [])[position : position + left]
            if records:
                out[tp] = records
                self.positions[tp] = position + len(records)
                left -= len(records)
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.steps.append(f"seek {tp.partition}@{offset}")
        self.positions[tp] = offset

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.steps.append("commit " + ",".join(f"{tp.partition}@{o.offset}" for tp, o in sorted(offsets.items())))
        for tp, meta in offsets.items():
            self.broker.committed[tp] = meta.offset

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.broker.logs.get(tp, []))

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.positions[tp]

    def close(self, autocommit: bool = False) -> None:
        return None


def parse(message: Incoming) -> dict[str, Any]:
    value = message.json()
    if not isinstance(value, dict) or "id" not in value:
        raise MalformedMessage("no id")
    return value


class Service:
    """A handler like alert-system's: drops ids it recorded, outputs one message per new input
    (id derived from the input's), records the ids in ``commit``. ``retry`` ids are handed back."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.recorded: list[str] = []
        self.retry: set[str] = set()
        self.fail: Exception | None = None
        self.in_commit: Callable[[], None] = lambda: None

    def handle(self, messages: list[Incoming]) -> Handled:
        self.steps.append(f"handle {len(messages)}")
        if self.fail is not None:
            raise self.fail
        parsed, dead = decode_all(messages, parse)
        new = [(m, v) for m, v in parsed if v["id"] not in self.recorded and v["id"] not in self.retry]
        again = [m for m, v in parsed if v["id"] in self.retry]

        def commit() -> None:
            self.steps.append("record")
            self.in_commit()
            self.recorded.extend(v["id"] for _, v in new if v["id"] not in self.recorded)

        outputs = [Outgoing(OUT, v["id"], {"id": "out-" + v["id"]}) for _, v in new]
        return Handled(outputs, commit, dead, again, {"new": len(new)})


class World:
    def __init__(self, partitions: int = 2) -> None:
        self.broker = Broker(partitions)
        self.steps: list[str] = []
        self.service = Service(self.steps)
        self.registry = CollectorRegistry()
        self.sleeps: list[float] = []
        self.producer = FakeProducer(self.broker, self.steps)
        self.consumer = self.new_consumer()
        self.handler: Callable[[list[Incoming]], Handled] = self.service.handle  # this process's
        self.runner = KafkaRunner(
            name="svc",
            bootstrap="127.0.0.1:9",
            group_id="g",
            topics=[IN],
            handler=lambda messages: self.handler(messages),
            producer=self.producer,
            metrics=KafkaMetrics(self.registry),
            sleep=self.sleep,
            max_batch=100,
        )

    def new_consumer(self) -> FakeConsumer:
        """A restarted process's consumer: positions from the committed offsets."""
        consumer = FakeConsumer(self.broker, self.steps)
        consumer.subscribe([IN])
        return consumer

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        return False

    def publish(self, partition: int, *ids: str | bytes) -> None:
        for i in ids:
            self.broker.append(IN, partition, i if isinstance(i, bytes) else json.dumps({"id": i}).encode())

    def turn(self) -> None:
        self.runner.poll_once(self.consumer)  # type: ignore[arg-type]

    def consumed(self, outcome: str) -> float:
        return self.registry.get_sample_value("kafka_messages_consumed_total", {"topic": IN, "outcome": outcome}) or 0


def test_a_batch_is_handled_produced_flushed_once_recorded_then_committed_once() -> None:
    w = World()
    w.publish(0, "a", "b")
    w.publish(1, "c")
    w.turn()
    assert w.steps == ["handle 3", "send out", "send out", "send out", "flush", "record", "commit 0@2,1@1"]
    assert [v["id"] for v in w.broker.values(OUT)] == ["out-a", "out-b", "out-c"]
    assert w.consumed("ok") == 3
    assert w.registry.get_sample_value("kafka_messages_produced_total", {"topic": OUT}) == 3
    assert w.sleeps == []


def test_a_poison_message_goes_to_its_dead_letter_topic_without_holding_the_batch_back() -> None:
    w = World()
    w.publish(0, "a", b"not json", "b")
    w.turn()
    assert [v["id"] for v in w.broker.values(OUT)] == ["out-a", "out-b"]
    [dead] = w.broker.logs[TopicPartition(IN + ".dlq", 0)]
    assert dead.value == b"not json"
    headers = dict(dead.headers)
    assert headers["source"] == b"in/0/1" and b"JSON" in headers["error"]
    assert w.steps[-1] == "commit 0@3"
    assert (w.consumed("ok"), w.consumed("dead_letter")) == (2, 1)


def test_a_handler_failure_sends_the_whole_batch_back_after_the_pause() -> None:
    w = World()
    w.publish(0, "a", "b")
    w.publish(1, "c")
    w.service.fail = RuntimeError("database away")
    w.turn()
    assert w.steps == ["handle 3", "seek 0@0", "seek 1@0"]
    assert w.sleeps == [2.0] and w.broker.committed == {}
    assert w.consumed("retry") == 3
    w.service.fail = None
    w.turn()
    assert w.service.recorded == ["a", "b", "c"] and w.broker.committed == {
        TopicPartition(IN, 0): 2,
        TopicPartition(IN, 1): 1,
    }


def test_a_failed_produce_records_nothing_and_sends_the_batch_back() -> None:
    w = World()
    w.publish(0, "a")
    w.producer.fail = KafkaTimeoutError("broker away")
    w.turn()
    assert "record" not in w.steps and w.broker.committed == {}
    assert w.steps[-1] == "seek 0@0"
    w.producer.fail = None
    w.turn()
    assert [v["id"] for v in w.broker.values(OUT)] == ["out-a"] and w.service.recorded == ["a"]


def test_a_failed_record_sends_the_batch_back() -> None:
    w = World()
    w.publish(0, "a")

    def fail() -> None:
        raise RuntimeError("database away")

    w.service.in_commit = fail
    w.turn()
    assert w.broker.committed == {} and w.steps[-1] == "seek 0@0"


def test_messages_handed_back_hold_only_their_partition_from_the_first_of_them() -> None:
    w = World()
    w.publish(0, "a", "later", "b")
    w.publish(1, "c")
    w.service.retry = {"later"}
    w.turn()
    assert w.steps[-2:] == ["commit 0@1,1@1", "seek 0@1"]
    assert w.sleeps == [2.0]
    assert (w.consumed("ok"), w.consumed("retry")) == (3, 1)
    w.service.retry = set()
    w.turn()  # "later" and "b" again; "b" was recorded already, so only "later" is new
    assert w.broker.committed[TopicPartition(IN, 0)] == 3
    assert [v["id"] for v in w.broker.values(OUT)] == ["out-a", "out-b", "out-c", "out-later"]


def test_a_failed_offset_commit_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    w.publish(0, "a")
    w.consumer.commit_error = CommitFailedError("rebalanced")
    with caplog.at_level(logging.WARNING):
        w.turn()
    assert "offsets not committed" in caplog.text
    assert w.service.recorded == ["a"]


def test_one_info_line_per_batch_with_its_counts(caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    w.publish(0, "a", b"[]", "b")
    with caplog.at_level(logging.DEBUG, logger="flightctl.services.common.kafka"):
        w.turn()
        w.turn()  # an empty poll logs nothing
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.getMessage() for r in infos] == ["svc: batch of 3: ok 2, dead_letters 1, retry 0, produced 2, new 2"]


def crash_in_handler(w: World) -> None:
    def crash(messages: list[Incoming]) -> Handled:
        raise Crash

    w.handler = crash


def crash_at_send(n: int) -> Callable[[World], None]:
    def arm(w: World) -> None:
        def on_send(count: int) -> None:
            if count == n:
                w.producer.flush()  # what was sent before is on the broker
                raise Crash

        w.producer.on_send = on_send

    return arm


def crash_in_record(after: bool) -> Callable[[World], None]:
    def arm(w: World) -> None:
        inner = w.service.handle

        def handle(messages: list[Incoming]) -> Handled:
            handled = inner(messages)
            commit = handled.commit
            assert commit is not None

            def crashing() -> None:
                if after:
                    commit()
                raise Crash

            return Handled(handled.outputs, crashing, handled.dead_letters, handled.retry)

        w.handler = handle

    return arm


def crash_at_offset_commit(w: World) -> None:
    w.consumer.commit_error = Crash()


@pytest.mark.parametrize(
    "arm",
    [
        crash_in_handler,
        crash_at_send(2),  # after some outputs produced
        crash_at_send(4),
        crash_in_record(after=False),  # after the flush, before the record
        crash_in_record(after=True),  # recorded, offsets not committed
        crash_at_offset_commit,
    ],
    ids=["handler", "after-1-output", "after-3-outputs", "after-flush", "after-record", "at-offset-commit"],
)
def test_a_crash_mid_batch_redelivers_it_and_every_input_is_recorded_once(arm: Callable[[World], None]) -> None:
    w = World()
    w.publish(0, "a", "b", b"poison", "c")
    w.publish(1, "d")
    arm(w)
    with pytest.raises(Crash):
        w.turn()
    # The process is gone; a new one (same group, same service state) takes over.
    w.handler = w.service.handle
    w.producer.on_send = lambda n: None
    w.consumer = w.new_consumer()
    w.turn()
    assert sorted(w.service.recorded) == ["a", "b", "c", "d"]  # each recorded exactly once
    outputs = [v["id"] for v in w.broker.values(OUT)]
    assert set(outputs) == {"out-a", "out-b", "out-c", "out-d"}  # each at least once, same ids
    assert w.broker.committed == {TopicPartition(IN, 0): 4, TopicPartition(IN, 1): 1}
    assert w.broker.values(IN + ".dlq")[-1] == b"poison"
