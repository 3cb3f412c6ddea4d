"""A service started before its Kafka broker waits for it (with backoff) instead of exiting:
on a first deploy to Kubernetes every pod starts at once, and Kafka's JVM is often the last to
listen. Before this wait, data-collector, alert-system and alert-notifier made their producer
once, and kafka-python gives up bootstrapping after 10 s: the pod exited and was restarted."""

from __future__ import annotations

import contextlib
import gc
import logging
import warnings
from collections.abc import Iterator

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from flightctl.platform.layout import free_port
from flightctl.services.common import kafka
from flightctl.services.common.backoff import Backoff
from tests.fakes.clock import FakeClock


@contextlib.contextmanager
def _level(logger: logging.Logger, level: int) -> Iterator[None]:
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


class Broker:
    """A factory whose broker answers from the ``answers_at``-th attempt on."""

    def __init__(self, answers_at: int, error: Exception) -> None:
        self.answers_at = answers_at
        self.error = error
        self.attempts: list[tuple[str, str]] = []
        self.producer = object()

    def __call__(self, bootstrap: str, client_id: str) -> object:
        self.attempts.append((bootstrap, client_id))
        if len(self.attempts) < self.answers_at:
            raise self.error
        return self.producer


def test_it_retries_with_backoff_until_the_broker_answers(caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker(answers_at=5, error=KafkaTimeoutError("Unable to bootstrap from ['kafka:9092']"))
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger=kafka.__name__):
        producer = kafka.connect_producer(
            "kafka:9092",
            "data-collector",
            backoff=Backoff(1.0, 4.0),
            deadline=60,
            factory=broker,  # type: ignore[arg-type]
            sleep=clock.sleep,
            clock=clock,
        )
    assert producer is broker.producer
    assert broker.attempts == [("kafka:9092", "data-collector")] * 5
    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4 and all("the Kafka broker does not answer yet" in w for w in warnings)
    assert "Unable to bootstrap from ['kafka:9092']" in warnings[0]
    assert "the Kafka broker answers after 4 failed attempt(s)" in caplog.text


def test_a_refused_connection_is_waited_for_too() -> None:
    broker = Broker(answers_at=2, error=KafkaConnectionError("connection refused"))
    clock = FakeClock()
    producer = kafka.connect_producer("kafka:9092", "x", factory=broker, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert producer is broker.producer
    assert clock.sleeps == [kafka.CONNECT_BACKOFF.delay(1)]


def test_it_gives_up_at_the_deadline_with_the_last_error(caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker(answers_at=100, error=KafkaTimeoutError("Unable to bootstrap"))
    clock = FakeClock()
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        kafka.connect_producer(
            "kafka:9092",
            "x",
            backoff=Backoff(1.0, 4.0),
            deadline=10,
            factory=broker,
            sleep=clock.sleep,
            clock=clock,  # type: ignore[arg-type]
        )
    assert clock.sleeps == [1.0, 2.0, 4.0], "the next wait (4s) would pass the 10s deadline"
    assert "the Kafka broker did not answer within 10s; giving up" in caplog.text


def test_other_errors_are_not_retried() -> None:
    broker = Broker(answers_at=100, error=ValueError("bad configuration"))
    clock = FakeClock()
    with pytest.raises(ValueError):
        kafka.connect_producer("kafka:9092", "x", factory=broker, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert clock.sleeps == [] and len(broker.attempts) == 1


def test_what_kafka_python_raises_for_an_absent_broker_is_retried() -> None:
    """The real client, where nothing listens (its bootstrap wait shortened from 10 s): the
    error it raises is one connect_producer waits on, so a library upgrade that changed it
    would fail here rather than in a pod that exits on start."""

    def short_bootstrap(bootstrap: str, client_id: str) -> KafkaProducer:
        return KafkaProducer(bootstrap_servers=[bootstrap], client_id=client_id, bootstrap_timeout_ms=300)

    clock = FakeClock()
    # kafka-python leaves the sockets of a failed bootstrap to the garbage collector: collect
    # them here, where their ResourceWarning is expected, not in whichever test runs next. Its
    # own log records (kept by pytest until the test ends) would hold them: it is silenced.
    raised: type[BaseException] | None = None
    client_log = logging.getLogger("kafka")
    with warnings.catch_warnings(), _level(client_log, logging.CRITICAL):
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            kafka.connect_producer(
                f"127.0.0.1:{free_port()}",
                "x",
                backoff=Backoff(1.0, 1.0),
                deadline=2.5,
                factory=short_bootstrap,
                sleep=clock.sleep,
                clock=clock,
            )
        except (KafkaTimeoutError, KafkaConnectionError) as exc:
            raised = type(exc)  # the type only: the traceback would keep the client's sockets
        gc.collect()
    assert raised is not None, "connect_producer gave up with the client's own error"
    assert clock.sleeps == [1.0, 1.0], "both failed attempts were retried before the deadline"
