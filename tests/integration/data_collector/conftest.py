"""Helpers for data-collector tests on the real platform: a fresh airport per test, users,
direct access to the service's own database, Kafka reads and /metrics parsing."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import airportsdata
import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, text

from flightctl.local import postgres
from flightctl.platform.layout import Home
from flightctl.platform.proc import wait_until
from tests.conftest import Platform

# Codes other test modules use by name; the per-test airports never collide with them.
TAKEN = {"LIRF", "LIML", "LICC", "ZZZZ", "EGLL", "EDDF", "KJFK", "LFPG", "LIRQ"}


@pytest.fixture(scope="session")
def airport_pool() -> Iterator[str]:
    codes = sorted(c for c in airportsdata.load("ICAO") if c.isalpha() and c not in TAKEN)
    random.Random(uuid.uuid4().int).shuffle(codes)
    return iter(codes)


@pytest.fixture
def new_airport(airport_pool: Iterator[str]) -> Callable[[], str]:
    """A real ICAO code no other test in this session uses."""
    return lambda: next(airport_pool)


@pytest.fixture(scope="session")
def dc_engine(platform: Platform) -> Iterator[Engine]:
    state = Home(platform.home).load_state()
    assert state is not None
    engine = create_engine(postgres.url(state, postgres.DATABASES["data-collector"]), pool_size=2)
    yield engine
    engine.dispose()


def create_user(platform: Platform) -> str:
    return platform.create_user("dc")


def insert_flights(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Store flight rows as the collector would (columns of flight_data)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO flight_data (icao24, first_seen, last_seen, est_departure_airport, est_arrival_airport,"
                " callsign, source) VALUES (:icao24, :first_seen, :last_seen, :dep, :arr, :callsign, :source)"
            ),
            rows,
        )


def flight_row(icao24: str, first: datetime, last: datetime, dep: str | None, arr: str | None) -> dict[str, Any]:
    return {
        "icao24": icao24,
        "first_seen": first,
        "last_seen": last,
        "dep": dep,
        "arr": arr,
        "callsign": "TST" + icao24[:4].upper(),
        "source": "opensky",
    }


def stored_count(engine: Engine, airport: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM flight_data WHERE est_arrival_airport = :a OR est_departure_airport = :a"),
                {"a": airport},
            ).scalar_one()
        )


def read_messages(
    platform: Platform, topic: str, match: Callable[[dict[str, Any]], bool], want: int, timeout: float = 20
) -> list[tuple[str | None, dict[str, Any]]]:
    """Every message of ``topic`` (from the beginning) that ``match`` accepts, once ``want`` are there."""
    consumer = KafkaConsumer(
        bootstrap_servers=platform.status["kafka"], enable_auto_commit=False, bootstrap_timeout_ms=10000
    )
    found: list[tuple[str | None, dict[str, Any]]] = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        assert partitions, f"topic {topic} does not exist"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)

        def enough() -> bool:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    try:  # other tests put malformed records on the same topics (the DLQ tests)
                        value = json.loads(record.value)
                    except ValueError:
                        continue
                    if isinstance(value, dict) and match(value):
                        found.append((record.key.decode() if record.key is not None else None, value))
            return len(found) >= want

        wait_until(enough, timeout=timeout, interval=0)
    finally:
        consumer.close()
    return found


def scrape(platform: Platform, service: str = "data-collector") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a service's /metrics."""
    with platform.client(service) as client:
        body = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
