"""Kafka for every service: a JSON producer (idempotent, acks=all), topic creation, and one
runner that owns a consumer, its producer and the loop.

The runner works in batches: what one poll returns (at most ``max_batch`` messages, in offset
order within each partition) goes to the handler at once, and the handler returns a
:class:`Handled` for the whole batch: the messages the batch causes (``outputs``), the
messages it can never process (``dead_letters``, see :func:`decode_all`), the messages it could
not handle now (``retry``), and optionally a ``commit`` callback that records the handler's own
state for the batch (one database transaction). The runner then, in this order:

1. produces every output and every dead letter, flushes once and waits until the broker
   acknowledged each;
2. calls ``commit``;
3. commits the batch's offsets in one request: past the last message of each partition, or,
   on a partition with a message to retry, up to the first such message (the partition is read
   again from there after ``retry_pause``).

A crash anywhere in between redelivers the batch, so every message is handled at least once;
handlers derive output event ids from input ones and record the input ids, so the repeat is
dropped downstream. A dead letter never holds the batch back. The error policies are named
methods of the runner: a handler that raises (a database or broker outage) or a produce or
``commit`` that fails sends the whole batch back (:meth:`KafkaRunner.retry_batch`); nothing is
ever skipped. SIGTERM (stop()) ends the loop between batches.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from flightctl.services.common.backoff import Backoff
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
DEFAULT_MAX_BATCH = 500
T = TypeVar("T")


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
    raw_key: bytes | None = None

    @classmethod
    def of(cls, record: Any) -> Incoming:
        """From a kafka-python ConsumerRecord."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key is not None else None,
            value=record.value or b"",
            headers=list(record.headers or []),
            raw_key=record.key,
        )

    @property
    def where(self) -> dict[str, Any]:
        """topic, partition and offset, for a log line's extra fields."""
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    def json(self) -> Any:
        try:
            return json.loads(self.value.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedMessage(f"not UTF-8 JSON: {exc}") from None


@dataclass(frozen=True)
class DeadLetter:
    """A message that can never be processed, and why; it goes to its dead-letter topic."""

    message: Incoming
    reason: str


@dataclass(frozen=True)
class Handled:
    """What a handler made of one batch (see the module docstring)."""

    outputs: list[Outgoing] = field(default_factory=list)
    commit: Callable[[], None] | None = None
    dead_letters: list[DeadLetter] = field(default_factory=list)
    retry: list[Incoming] = field(default_factory=list)
    summary: Mapping[str, int] = field(default_factory=dict)
    """Counts for the batch's log line (e.g. notifications, duplicates)."""


class MalformedMessage(Exception):
    """The message can never be processed; it goes to the dead-letter topic."""


BatchHandler = Callable[[list[Incoming]], Handled]


def decode_all(
    messages: Iterable[Incoming], parse: Callable[[Incoming], T]
) -> tuple[list[tuple[Incoming, T]], list[DeadLetter]]:
    """``parse`` each message: those it refuses with MalformedMessage become dead letters, the
    others are returned with their parsed value, in order."""
    parsed: list[tuple[Incoming, T]] = []
    dead: list[DeadLetter] = []
    for message in messages:
        try:
            parsed.append((message, parse(message)))
        except MalformedMessage as exc:
            dead.append(DeadLetter(message, str(exc)))
    return parsed, dead


class Producer(Protocol):
    """The part of KafkaProducer the runner uses."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


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


# At start the broker may not answer yet (on a first deploy Kafka's JVM often comes up after
# PostgreSQL, and its name resolves only once its pod runs): a producer made then is retried
# with backoff for this long, as the database connection is (db.CONNECT_DEADLINE).
CONNECT_BACKOFF = Backoff(1.0, 10.0)
CONNECT_DEADLINE = 120.0


def connect_producer(
    bootstrap: str,
    client_id: str,
    *,
    backoff: Backoff = CONNECT_BACKOFF,
    deadline: float = CONNECT_DEADLINE,
    factory: Callable[[str, str], KafkaProducer] = make_producer,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> KafkaProducer:
    """:func:`make_producer`, once the broker answers. A producer that cannot bootstrap
    (:class:`KafkaTimeoutError`, :class:`KafkaConnectionError`) is tried again after
    ``backoff``'s delay, logged each time, until ``deadline`` seconds have passed; then the last
    error is raised. Any other error is raised at once."""
    give_up = clock() + deadline
    failures = 0
    while True:
        try:
            producer = factory(bootstrap, client_id)
        except (KafkaTimeoutError, KafkaConnectionError) as exc:
            failures += 1
            delay = backoff.delay(failures)
            if clock() + delay > give_up:
                log.error("the Kafka broker did not answer within %.0fs; giving up", deadline)
                raise
            log.warning("the Kafka broker does not answer yet (%s); retrying in %.1fs", str(exc), delay)
            sleep(delay)
            continue
        if failures:
            log.info("the Kafka broker answers after %d failed attempt(s)", failures)
        return producer


def send_all(producer: Producer, messages: Iterable[Outgoing], timeout: float = 30.0) -> int:
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


class KafkaRunner:
    """Consume ``topics`` in ``group_id``, hand each polled batch to ``handler``, produce its
    output, record, then commit. One thread; start()/stop()."""

    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        group_id: str,
        topics: Iterable[str],
        handler: BatchHandler,
        producer: Producer,
        metrics: KafkaMetrics,
        dlq: Callable[[Incoming], str | None] = lambda m: m.topic + DLQ_SUFFIX,
        retry_pause: float = 2.0,
        session_timeout_ms: int = 10000,
        max_batch: int = DEFAULT_MAX_BATCH,
        sleep: Callable[[float], bool] | None = None,
        connect: Callable[[dict[str, Any]], KafkaConsumer] | None = None,
        produce_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self._topics = list(topics)
        self._handler = handler
        self._producer = producer
        self._metrics = metrics
        self._dlq = dlq
        self._retry_pause = retry_pause
        self._max_batch = max_batch
        self._produce_timeout = produce_timeout
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait
        self._make_consumer = connect or (lambda config: KafkaConsumer(**config))
        self._consumer_config: dict[str, Any] = {
            "bootstrap_servers": bootstrap.split(","),
            "group_id": group_id,
            "client_id": name,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": max(1000, session_timeout_ms // 3),
            "max_poll_records": max_batch,
            "bootstrap_timeout_ms": 10000,
        }
        self._consumer: KafkaConsumer | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def healthy(self) -> str | None:
        if not self._thread.is_alive():
            return "consumer loop is not running"
        return None if self.ready.is_set() else "consumer not connected yet"

    def _connect(self) -> KafkaConsumer:
        while not self._stopped.is_set():
            try:
                consumer = self._make_consumer(self._consumer_config)
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
                self.poll_once(consumer)
        finally:
            consumer.close(autocommit=False)

    def poll_once(self, consumer: KafkaConsumer, timeout_ms: int = 500) -> None:
        """One turn of the loop: poll, handle the batch, update the lag gauge."""
        started = time.perf_counter()
        try:
            polled = consumer.poll(timeout_ms=timeout_ms, max_records=self._max_batch)
        except KafkaError as exc:
            log.warning("%s: poll failed (%s); retrying", self.name, exc)
            self._sleep(self._retry_pause)
            return
        batch = [Incoming.of(record) for records in polled.values() for record in records]
        if batch and not self._stopped.is_set():
            self.process(consumer, batch, poll_seconds=time.perf_counter() - started)
        self.update_lag(consumer)

    # -- one batch -----------------------------------------------------------------------------

    def process(self, consumer: KafkaConsumer, batch: list[Incoming], poll_seconds: float = 0.0) -> None:
        """Handle, produce, record and commit one batch (see the module docstring)."""
        timer = _Timer(poll=poll_seconds)
        try:
            handled = self._handler(batch)
        except Exception:
            self.retry_batch(consumer, batch, "the handler failed")
            return
        dead_letters = [d for d in handled.dead_letters if self._dlq(d.message)]
        for dead in handled.dead_letters:
            log.warning(
                "%s: malformed message sent to the dead-letter topic: %s",
                self.name,
                dead.reason,
                extra=dead.message.where,
            )
        timer.lap("handle")
        try:
            self._produce(handled.outputs, dead_letters)
            timer.lap("produce")
            if handled.commit is not None:
                handled.commit()
            timer.lap("record")
        except Exception:
            self.retry_batch(consumer, batch, "producing or recording the outcome failed")
            return
        for out in handled.outputs:
            self._metrics.produced.labels(out.topic).inc()
        for dead in dead_letters:
            self._metrics.produced.labels(self._dlq(dead.message)).inc()
        retry_from = self._commit_offsets(consumer, batch, handled.retry)
        timer.lap("commit")
        self._count(batch, handled, timer.ms)
        if retry_from:
            for tp, offset in retry_from.items():
                consumer.seek(tp, offset)
            log.warning(
                "%s: %d messages could not be handled now; their partitions are read again from them",
                self.name,
                len(handled.retry),
                extra={"partitions": {f"{tp.topic}/{tp.partition}": o for tp, o in retry_from.items()}},
            )
            self._sleep(self._retry_pause)

    def _produce(self, outputs: Sequence[Outgoing], dead_letters: Sequence[DeadLetter]) -> None:
        """Every output and dead letter, one flush, then every acknowledgement checked."""
        futures = [
            self._producer.send(
                out.topic, key=out.key.encode("utf-8") if out.key is not None else None, value=encode(out.value)
            )
            for out in outputs
        ]
        for dead in dead_letters:
            m = dead.message
            futures.append(
                self._producer.send(
                    str(self._dlq(m)),
                    key=m.raw_key,
                    value=m.value,
                    headers=[
                        ("error", dead.reason.encode()),
                        ("source", f"{m.topic}/{m.partition}/{m.offset}".encode()),
                    ],
                )
            )
        if not futures:
            return
        self._producer.flush(timeout=self._produce_timeout)
        for future in futures:
            future.get(timeout=self._produce_timeout)  # raises the KafkaError of a failed send

    def _commit_offsets(
        self, consumer: KafkaConsumer, batch: Sequence[Incoming], retry: Sequence[Incoming]
    ) -> dict[TopicPartition, int]:
        """Commit past each partition's last message, or up to its first one to retry; returns
        the offsets to read again from, per partition."""
        first: dict[TopicPartition, int] = {}
        after: dict[TopicPartition, int] = {}
        for m in batch:
            tp = TopicPartition(m.topic, m.partition)
            first[tp] = min(first.get(tp, m.offset), m.offset)
            after[tp] = max(after.get(tp, m.offset + 1), m.offset + 1)
        retry_from: dict[TopicPartition, int] = {}
        for m in retry:
            tp = TopicPartition(m.topic, m.partition)
            retry_from[tp] = min(retry_from.get(tp, m.offset), m.offset)
        offsets = {
            tp: OffsetAndMetadata(retry_from.get(tp, end), "", -1)
            for tp, end in after.items()
            if retry_from.get(tp, end) > first[tp]
        }
        if offsets:
            try:
                consumer.commit(offsets)
            except KafkaError as exc:
                # Typically a rebalance: the partitions' new owner gets the batch again and
                # drops what was already recorded.
                log.warning("%s: offsets not committed (%s); the batch will be redelivered", self.name, exc)
        return retry_from

    def _count(self, batch: Sequence[Incoming], handled: Handled, ms: Mapping[str, int]) -> None:
        dead = {(d.message.topic, d.message.partition, d.message.offset) for d in handled.dead_letters}
        again = {(m.topic, m.partition, m.offset) for m in handled.retry}
        outcomes: Counter[tuple[str, str]] = Counter()
        for m in batch:
            where = (m.topic, m.partition, m.offset)
            outcome = "dead_letter" if where in dead else "retry" if where in again else "ok"
            outcomes[(m.topic, outcome)] += 1
        for (topic, outcome), n in outcomes.items():
            self._metrics.consumed.labels(topic, outcome).inc(n)
        counts = {
            "messages": len(batch),
            "ok": sum(n for (_, o), n in outcomes.items() if o == "ok"),
            "dead_letters": len(handled.dead_letters),
            "retry": len(handled.retry),
            "produced": len(handled.outputs),
            **handled.summary,
        }
        log.info(
            "%s: batch of %d: %s",
            self.name,
            len(batch),
            ", ".join(f"{k} {v}" for k, v in counts.items() if k != "messages"),
            extra={"batch": counts, "ms": dict(ms)},
        )

    # -- error policies ------------------------------------------------------------------------

    def retry_batch(self, consumer: KafkaConsumer, batch: Sequence[Incoming], why: str) -> None:
        """The batch as a whole failed: nothing of it is committed, every partition is read
        again from the batch's first message after ``retry_pause``."""
        first: dict[TopicPartition, int] = {}
        for m in batch:
            tp = TopicPartition(m.topic, m.partition)
            first[tp] = min(first.get(tp, m.offset), m.offset)
        log.exception(
            "%s: %s; the batch of %d will be retried",
            self.name,
            why,
            len(batch),
            extra={"partitions": {f"{tp.topic}/{tp.partition}": o for tp, o in first.items()}},
        )
        for m in batch:
            self._metrics.consumed.labels(m.topic, "retry").inc()
        for tp, offset in first.items():
            consumer.seek(tp, offset)
        self._sleep(self._retry_pause)

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


class _Timer:
    """Where a batch's time went, in milliseconds per step (for its log line only)."""

    def __init__(self, poll: float) -> None:
        self.ms: dict[str, int] = {"poll": round(poll * 1000)}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.ms[step] = round((now - self._last) * 1000)
        self._last = now


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
