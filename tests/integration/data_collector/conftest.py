"""Helpers for data-collector tests on the real platform: a fresh airport per test, users,
direct access to the service's own database, Kafka reads and /metrics parsing; and a rig that
runs a Collector in-process on a fresh database of its own, with an injected clock."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import airportsdata
import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from flightctl.local import postgres
from flightctl.platform.layout import Home
from flightctl.platform.proc import wait_until
from flightctl.services.common import db
from flightctl.services.common.kafka import Outgoing
from flightctl.services.data_collector.app import VERSIONS
from flightctl.services.data_collector.collector import Collector
from flightctl.services.data_collector.ledger import Ledger
from flightctl.services.data_collector.live import LiveTrafficWatch
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.models import CollectedDay, Flight, Interest
from flightctl.services.data_collector.opensky import Circuit, OpenSkyClient
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


def yesterday() -> datetime:
    """00:00 UTC of yesterday: the platform's latest complete day (OPENSKY_BATCH_DELAY_HOURS=0)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


@pytest.fixture(scope="module")
def own_database(dc_engine: Engine) -> Iterator[Engine]:
    """A fresh, migrated data_collector database for one test module."""
    name = f"dc_test_{uuid.uuid4().hex[:10]}"
    with dc_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(str(dc_engine.url.render_as_string(hide_password=False))).set(database=name))
    try:
        db.migrate(engine, VERSIONS)
        yield engine
    finally:
        engine.dispose()
        with dc_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def reset(engine: Engine) -> None:
    """Empty every table of an own database."""
    with engine.begin() as connection:
        connection.execute(
            text("TRUNCATE user_interests, flight_data, collected_days, credit_usage, live_traffic, collector_schedule")
        )


class SimClock:
    """The injected wall clock of a rig: the collector's ``now`` and the fake OpenSky's clock."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def unix(self) -> float:
        return self.moment.timestamp()

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass
class Rig:
    """A Collector (and its live-traffic watch) on an own database, its messages kept in a list."""

    engine: Engine
    collector: Collector
    live: LiveTrafficWatch
    published: list[Outgoing]
    registry: CollectorRegistry
    clock: SimClock
    client: OpenSkyClient

    def sample(self, name: str, **labels: str) -> float:
        return float(self.registry.get_sample_value(name, labels) or 0.0)

    def watch(self, *airports: str, live: bool = False, high: int | None = 50, low: int | None = 1) -> None:
        with db.transaction(db.make_session_factory(self.engine)) as session:
            for airport in airports:
                session.add(
                    Interest(
                        user_email="pilot@example.com", airport_code=airport, high_value=high, low_value=low, live=live
                    )
                )

    def flights(self, airport: str) -> list[Flight]:
        with db.make_session_factory(self.engine)() as session:
            where = (Flight.est_arrival_airport == airport) | (Flight.est_departure_airport == airport)
            return list(session.scalars(select(Flight).where(where).order_by(Flight.icao24)))

    def days(self) -> dict[tuple[str, str, date], str]:
        with db.make_session_factory(self.engine)() as session:
            return {(r.airport_code, r.direction, r.day): r.source for r in session.scalars(select(CollectedDay))}


def make_rig(
    engine: Engine,
    api_url: str,
    clock: SimClock,
    *,
    token_url: str | None = None,
    credentials: tuple[str, str] | None = None,
    credits_per_day: int | None = None,
    fallback: bool = False,
    live_fallback: bool = False,
    batch_delay: timedelta = timedelta(hours=6),
    history_days: int = 7,
    live_interval: float = 60.0,
) -> Rig:
    reset(engine)
    registry = CollectorRegistry()
    metrics = CollectorMetrics(registry)
    published: list[Outgoing] = []

    def publish(messages: Sequence[Outgoing]) -> int:
        published.extend(messages)
        return len(messages)

    client = OpenSkyClient(
        api_url=api_url,
        token_url=token_url or api_url + "/token",
        client_id=credentials[0] if credentials else None,
        client_secret=credentials[1] if credentials else None,
        circuit=Circuit(5, 60),
        timeout=5,
    )
    factory = db.make_session_factory(engine)
    per_day = credits_per_day or (4000 if credentials else 400)  # as OpenSky gives a standard or anonymous caller
    ledger = Ledger(factory, per_day, 10.0, on_spend=lambda f, c: metrics.credits_used.labels(f).inc(c))
    live = LiveTrafficWatch(
        factory=factory,
        client=client,
        publish=publish,
        ledger=ledger,
        metrics=metrics,
        now=clock,
        coordinates={code: (float(a["lat"]), float(a["lon"])) for code, a in AIRPORTS.items()},
        interval=live_interval,
        mock_fallback=live_fallback,
    )
    collector = Collector(
        engine=engine,
        factory=factory,
        client=client,
        publish=publish,
        metrics=metrics,
        now=clock,
        ledger=ledger,
        batch_delay=batch_delay,
        history_days=history_days,
        mock_fallback=fallback,
        live=live,
    )
    return Rig(engine, collector, live, published, registry, clock, client)


AIRPORTS = airportsdata.load("ICAO")
