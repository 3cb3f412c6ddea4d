"""Shared pieces of the pipeline tests: users with a Telegram chat, raw Kafka producing, a tail
of a topic from "now", and extra alert-system processes against the session platform."""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from flightctl.config import configuration
from flightctl.local import services
from flightctl.platform.layout import Home
from flightctl.platform.proc import wait_until
from flightctl.services.common.kafka import encode
from tests.conftest import ROOT, TEST_PORT_BASE, Platform
from tests.fakes.telegram import SentMessage
from tests.prometheus import sample as metric  # noqa: F401 - used by the pipeline tests

EXTRA_PORTS = range(TEST_PORT_BASE + 3050, TEST_PORT_BASE + 3100)
"""Ports of processes these tests spawn themselves, beside the platform's (FLIGHTCTL_TEST_PORT_BASE), so that
two suites with different bases never meet."""


def new_user(platform: Platform, *, chat: bool = True) -> tuple[str, str | None]:
    """A new user (email), with a fresh Telegram chat id unless ``chat`` is false."""
    chat_id = str(random.randint(10**9, 10**10)) if chat else None
    return platform.create_user("pipe", chat_id=chat_id), chat_id


def reading(email: str, airport: str, count: int, *, high: int | None = None, low: int | None = None) -> dict[str, Any]:
    """A to-alert-system value as data-collector publishes it."""
    end = datetime.now(UTC)
    return {
        "event_id": str(uuid.uuid4()),
        "user_email": email,
        "airport_code": airport,
        "flight_count": count,
        "high_value": high,
        "low_value": low,
        "window_start": (end - timedelta(hours=24)).isoformat(),
        "window_end": end.isoformat(),
        "source": "opensky",
    }


def alert(email: str, airport: str = "LIRF", *, event_id: str | None = None) -> dict[str, Any]:
    """A to-notifier value as alert-system publishes it."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "user_email": email,
        "airport_code": airport,
        "kind": "high",
        "flight_count": 7,
        "threshold": 3,
        "condition": "The number of flights (7) exceeded the high threshold of 3.",
        "source": "opensky",
    }


class Kafka:
    """Raw producing (any bytes, any partition) to the platform's broker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=0)

    def send(
        self, topic: str, value: dict[str, Any] | bytes, key: str | None = None, partition: int | None = None
    ) -> None:
        raw = value if isinstance(value, bytes) else encode(value)
        future = self._producer.send(
            topic, value=raw, key=key.encode() if key is not None else None, partition=partition
        )
        future.get(timeout=15)

    def tail(self, topic: str) -> Tail:
        return Tail(self.bootstrap, topic)

    def close(self) -> None:
        self._producer.close(timeout=5)


class Tail:
    """The records of ``topic`` produced after this object was made (no consumer group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
        self._consumer.topics()  # metadata
        partitions = self._consumer.partitions_for_topic(topic) or set()
        assert partitions, f"topic {topic} has no partitions"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_end(*tps)
        for tp in tps:
            self._consumer.position(tp)  # resolve "end" now, before the test produces
        self.records: list[Any] = []

    def wait_for(self, predicate: Callable[[Any], bool], n: int, timeout: float) -> list[Any]:
        """Read until ``n`` records match ``predicate`` or ``timeout``; returns the matches."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [r for r in self.records if predicate(r)]
            if len(matching) >= n or time.monotonic() >= deadline:
                return matching
            for batch in self._consumer.poll(timeout_ms=200).values():
                self.records.extend(batch)

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def chat_messages(platform: Platform, chat_id: str | None) -> list[SentMessage]:
    return [m for m in platform.telegram.messages if m.chat_id == chat_id]


def wait_for_chat(platform: Platform, chat_id: str | None, n: int, timeout: float = 20) -> list[SentMessage]:
    wait_until(lambda: len(chat_messages(platform, chat_id)) >= n, timeout=timeout)
    return chat_messages(platform, chat_id)


def service_env(platform: Platform, service: str, port: int, **extra: str) -> dict[str, str]:
    """The environment `flightctl up --local` gives ``service``, on another HTTP port."""
    home = Home(platform.home)
    state = home.load_state()
    assert state is not None
    config = configuration(platform.env, ROOT)
    env = services.environment(service, home, state, config)
    env.update({"HTTP_PORT": str(port), **extra})
    return env


@contextmanager
def spawned(platform: Platform, service: str, port: int, log: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run one more instance of ``service``; SIGTERM (then SIGKILL) when the block ends."""
    assert port in EXTRA_PORTS
    with log.open("ab") as out:
        proc = subprocess.Popen(
            services.command(service),
            env=service_env(platform, service, port, **extra),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def group_members(bootstrap: str, group: str) -> tuple[str, int]:
    """(state, member count) of a consumer group."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="pipeline-tests")
    try:
        info = admin.describe_groups([group])[group]
    finally:
        admin.close()
    return str(info.get("group_state") or info.get("state")), len(info.get("members") or [])
