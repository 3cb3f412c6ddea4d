"""Kafka for every service: a JSON producer (idempotent, acks=all), topic creation, and one
runner that owns a consumer, its producer and the loop.

The runner's contract: a handler turns one consumed message into a :class:`Handled`: the
messages it causes and, optionally, a ``commit`` callback that records the handler's own state.
The runner produces the messages and waits for the broker's acknowledgement, then calls
``commit``, and only then commits the consumed offset. A crash anywhere in between redelivers
the message; handlers derive output event ids from input ones so consumers drop the repeat. A message the handler
calls malformed goes to the dead-letter topic; any other handler error leaves the offset where
it is and the same message is tried again after a pause (nothing is skipped). SIGTERM (stop())
ends the loop between messages.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from flightctl.services.common.metrics import KafkaMetrics

log = logging.getLogger(__name__)

TO_ALERT_SYSTEM = "to-alert-system"
TO_NOTIFIER = "to-notifier"
SLA_BREACH = "sla_breach"
DLQ_SUFFIX = ".dlq"
TOPICS = (
    TO_ALERT_SYSTEM,
    TO_NOTIFIER,
    SLA_BREACH,
    *(t + DLQ_SUFFIX for t in (TO_ALERT_SYSTEM, TO_NOTIFIER, SLA_BREACH)),
)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str | None
    value: dict[str, Any]


@dataclass(frozen=True)
class Incoming:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    def json(self) -> Any:
        try:
            return json.loads(self.value.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedMessage(f"not UTF-8 JSON: {exc}") from None


@dataclass(frozen=True)
class Handled:
    outputs: list[Outgoing] = field(default_factory=list)
    commit: Callable[[], None] | None = None


class MalformedMessage(Exception):
    """The message can never be processed; it goes to the dead-letter topic."""


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make_producer(bootstrap: str, client_id: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        retries=2147483647,
        delivery_timeout_ms=30000,
        request_timeout_ms=10000,
        bootstrap_timeout_ms=10000,
        max_block_ms=10000,  # a send while the broker is away fails after 10 s instead of 60
    )


def send_all(producer: KafkaProducer, messages: Iterable[Outgoing], timeout: float = 30.0) -> int:
    """Produce and wait until the broker acknowledged every message; returns how many."""
    futures = [
        producer.send(
            m.topic,
            key=m.key.encode("utf-8") if m.key is not None else None,
            value=encode(m.value),
        )
        for m in messages
    ]
    producer.flush(timeout=timeout)
    for future in futures:
        future.get(timeout=timeout)  # raises the KafkaError of a failed send
    return len(futures)


def ensure_topics(bootstrap: str, topics: Iterable[str] = TOPICS, partitions: int = 3) -> None:
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap.split(","),
        client_id="flightctl-admin",
        bootstrap_timeout_ms=10000,
    )
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=15000)
            except TopicAlreadyExistsError:
                log.debug("topics created concurrently")
    finally:
        admin.close()


Handler = Callable[[Incoming], Handled]


class KafkaRunner:
    """Consume ``topics`` in ``group_id``, hand each message to ``handler``, produce its output,
    then commit. One thread; start()/stop()."""

    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        group_id: str,
        topics: Iterable[str],
        handler: Handler,
        producer: KafkaProducer,
        metrics: KafkaMetrics,
        dlq: Callable[[Incoming], str | None] = lambda m: m.topic + DLQ_SUFFIX,
        retry_pause: float = 2.0,
        session_timeout_ms: int = 10000,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.name = name
        self._topics = list(topics)
        self._handler = handler
        self._producer = producer
        self._metrics = metrics
        self._dlq = dlq
        self._retry_pause = retry_pause
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait
        self._consumer_config = {
            "bootstrap_servers": bootstrap.split(","),
            "group_id": group_id,
            "client_id": name,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": max(1000, session_timeout_ms // 3),
            "max_poll_records": 100,
            "bootstrap_timeout_ms": 10000,
        }
        self._consumer: KafkaConsumer | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=15)

    def healthy(self) -> str | None:
        if not self._thread.is_alive():
            return "consumer loop is not running"
        return None if self.ready.is_set() else "consumer not connected yet"

    def _connect(self) -> KafkaConsumer:
        while not self._stopped.is_set():
            try:
                consumer = KafkaConsumer(**self._consumer_config)
                consumer.subscribe(self._topics)
                return consumer
            except KafkaError as exc:
                log.warning("%s: broker not reachable (%s); retrying", self.name, exc)
                self._sleep(self._retry_pause)
        raise _Stopped

    def _run(self) -> None:
        try:
            self._consumer = self._connect()
        except _Stopped:
            return
        self.ready.set()
        consumer = self._consumer
        try:
            while not self._stopped.is_set():
                try:
                    batches = consumer.poll(timeout_ms=500)
                except KafkaError as exc:
                    log.warning("%s: poll failed (%s); retrying", self.name, exc)
                    self._sleep(self._retry_pause)
                    continue
                for tp, records in batches.items():
                    if self._stopped.is_set():
                        break
                    self._process_partition(consumer, tp, records)
                self.update_lag(consumer)
        finally:
            consumer.close(autocommit=False)

    def _process_partition(self, consumer: KafkaConsumer, tp: TopicPartition, records: list[Any]) -> None:
        for record in records:
            message = Incoming(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key.decode("utf-8", "replace") if record.key is not None else None,
                value=record.value or b"",
                headers=list(record.headers or []),
            )
            where = {
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
            }
            commit: Callable[[], None] | None = None
            try:
                handled = self._handler(message)
                outputs, commit = handled.outputs, handled.commit
                outcome = "ok"
            except MalformedMessage as exc:
                log.warning(
                    "%s: malformed message sent to the dead-letter topic: %s",
                    self.name,
                    exc,
                    extra=where,
                )
                dlq_topic = self._dlq(message)
                outputs = []
                if dlq_topic:
                    self._producer.send(
                        dlq_topic,
                        key=record.key,
                        value=message.value,
                        headers=[
                            ("error", str(exc).encode()),
                            (
                                "source",
                                f"{message.topic}/{message.partition}/{message.offset}".encode(),
                            ),
                        ],
                    )
                    self._metrics.produced.labels(dlq_topic).inc()
                outcome = "dead_letter"
            except Exception:
                log.exception("%s: handler failed; the message will be retried", self.name, extra=where)
                self._metrics.consumed.labels(message.topic, "retry").inc()
                consumer.seek(tp, message.offset)
                self._sleep(self._retry_pause)
                return
            try:
                send_all(self._producer, outputs)
                if commit is not None:
                    commit()
            except Exception:
                log.exception(
                    "%s: producing or recording the outcome failed; the message will be retried",
                    self.name,
                    extra=where,
                )
                consumer.seek(tp, message.offset)
                self._sleep(self._retry_pause)
                return
            for out in outputs:
                self._metrics.produced.labels(out.topic).inc()
            self._producer.flush(timeout=30)
            consumer.commit({tp: OffsetAndMetadata(message.offset + 1, "", -1)})
            self._metrics.consumed.labels(message.topic, outcome).inc()

    def update_lag(self, consumer: KafkaConsumer) -> None:
        """Set kafka_consumer_lag{service, topic} from ``consumer`` (the loop does it after every
        poll): end offset minus position, summed over the partitions assigned to it (0 for a
        topic with none assigned). Positions and end offsets are the consumer's own (updated by
        each fetch), so this costs no request."""
        totals = dict.fromkeys(self._topics, 0)
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = consumer.position(tp, timeout_ms=100)
            except KafkaError:
                continue
            if position is not None:
                totals[tp.topic] = totals.get(tp.topic, 0) + max(0, high - position)
        for topic, lag in totals.items():
            self._metrics.lag.labels(self.name, topic).set(lag)


class _Stopped(Exception):
    pass


def broker_reachable(bootstrap: str, timeout: float = 1.0) -> str | None:
    """None when at least one bootstrap broker accepts a connection, else a short reason.
    (kafka-python's bootstrap_connected() turns false once the bootstrap connection is
    recycled, so it cannot serve as a health check.)"""
    import socket

    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return None
        except (OSError, ValueError):
            continue
    return "broker not reachable"
