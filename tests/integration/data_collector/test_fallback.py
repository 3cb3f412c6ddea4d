"""The collector itself (no HTTP) against a database of its own on the platform's PostgreSQL:
OpenSky failing with the mock fallback on (simulated flights stored and published as
source='mock') and off (nothing published: no data is not zero), and 404 meaning zero."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import airportsdata
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from flightctl.services.common import db
from flightctl.services.common.kafka import Outgoing
from flightctl.services.data_collector.app import VERSIONS
from flightctl.services.data_collector.collector import Collector
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.models import Flight, Interest
from flightctl.services.data_collector.opensky import Circuit, OpenSkyClient
from tests.fakes.opensky import FakeOpenSky, Fault

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AIRPORTS = sorted(airportsdata.load("ICAO"))


@pytest.fixture(scope="module")
def own_database(dc_engine: Engine) -> Iterator[Engine]:
    """A fresh, migrated database for this module only."""
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


@dataclass
class Run:
    collector: Collector
    published: list[Outgoing]
    metrics: CollectorMetrics
    registry: CollectorRegistry


def make_collector(engine: Engine, api_url: str, fallback: bool) -> Run:
    registry = CollectorRegistry()
    metrics = CollectorMetrics(registry)
    published: list[Outgoing] = []

    def publish(messages: list[Outgoing]) -> int:
        published.extend(messages)
        return len(messages)

    client = OpenSkyClient(
        api_url=api_url,
        token_url=api_url + "/token",
        client_id=None,
        client_secret=None,
        circuit=Circuit(5, 60),
        timeout=2,
    )
    collector = Collector(
        engine=engine,
        factory=db.make_session_factory(engine),
        client=client,
        publish=publish,  # type: ignore[arg-type]
        airport_codes=AIRPORTS,
        metrics=metrics,
        now=lambda: NOW,
        mock_fallback=fallback,
    )
    return Run(collector, published, metrics, registry)


def watch(engine: Engine, *airports: str) -> None:
    with db.transaction(db.make_session_factory(engine)) as session:
        session.execute(text("DELETE FROM user_interests"))
        for airport in airports:
            session.add(Interest(user_email="pilot@example.com", airport_code=airport, high_value=50, low_value=1))


def flights_of(engine: Engine, airport: str) -> list[Flight]:
    with db.make_session_factory(engine)() as session:
        where = (Flight.est_arrival_airport == airport) | (Flight.est_departure_airport == airport)
        return list(session.scalars(select(Flight).where(where)))


@pytest.fixture
def dead_opensky() -> str:
    """The URL of an OpenSky that refuses connections (a fake, stopped)."""
    fake = FakeOpenSky().start()
    fake.stop()
    return fake.api_url


def test_fallback_on_serves_simulated_flights_marked_mock(own_database: Engine, dead_opensky: str) -> None:
    watch(own_database, "LIPE")
    run = make_collector(own_database, dead_opensky, fallback=True)
    summary = run.collector.run_cycle()
    (result,) = summary.airports
    assert result["source"] == "mock" and result["flights_stored"] > 0
    stored = flights_of(own_database, "LIPE")
    assert len(stored) == result["flights_stored"] and {f.source for f in stored} == {"mock"}
    (message,) = run.published
    assert message.key == "LIPE" and message.value["source"] == "mock"
    # every simulated flight lies inside the window, so the count is every stored one
    assert message.value["flight_count"] == len(stored)
    assert run.registry.get_sample_value("collector_airports_total", {"source": "mock"}) == 1
    assert run.registry.get_sample_value("collector_flights_stored_total", {"source": "mock"}) == len(stored)
    assert run.registry.get_sample_value("collector_cycles_total", {"outcome": "ok"}) == 1
    assert run.registry.get_sample_value("collector_last_success_timestamp_seconds") > 0


def test_fallback_off_publishes_nothing_when_opensky_fails(own_database: Engine, dead_opensky: str) -> None:
    watch(own_database, "LIBD")
    run = make_collector(own_database, dead_opensky, fallback=False)
    (result,) = run.collector.run_cycle().airports
    assert result["source"] == "unavailable" and "unreachable" in result["error"]
    assert result["flight_count"] is None and result["messages"] == 0
    assert run.published == [] and flights_of(own_database, "LIBD") == []
    assert run.registry.get_sample_value("collector_airports_total", {"source": "unavailable"}) == 1
    assert run.registry.get_sample_value("opensky_fetch_duration_seconds_count", {"airport_code": "LIBD"}) == 1
    # Every airport failed: a failed cycle, and the staleness the SLA detector watches keeps growing.
    assert run.registry.get_sample_value("collector_cycles_total", {"outcome": "failed"}) == 1
    assert run.registry.get_sample_value("collector_cycles_total", {"outcome": "ok"}) == 0
    assert run.registry.get_sample_value("collector_last_success_timestamp_seconds") == 0
    assert run.registry.get_sample_value("collector_started_timestamp_seconds") > 0


def test_no_flights_from_opensky_is_a_count_of_zero(own_database: Engine) -> None:
    watch(own_database, "LIBP")
    with FakeOpenSky() as fake:  # knows no flights: 404 for both lists
        run = make_collector(own_database, fake.api_url, fallback=False)
        (result,) = run.collector.run_cycle().airports
        windows = {(r.path, r.query["begin"], r.query["end"]) for r in fake.flight_requests()}
    begin, end = str(int((NOW - timedelta(hours=24)).timestamp())), str(int(NOW.timestamp()))
    assert windows == {("/api/flights/arrival", begin, end), ("/api/flights/departure", begin, end)}
    assert result["source"] == "opensky" and result["flight_count"] == 0
    (message,) = run.published
    assert message.value["flight_count"] == 0 and message.value["source"] == "opensky"


def test_airports_are_fetched_concurrently(own_database: Engine) -> None:
    watch(own_database, "LIRA", "LIRP", "LIRZ")
    with FakeOpenSky() as fake:
        gate = threading.Event()
        fake.queue_faults(Fault(gate=gate))  # the first OpenSky call hangs until released
        run = make_collector(own_database, fake.api_url, fallback=False)
        cycle = threading.Thread(target=run.collector.run_cycle)
        cycle.start()
        try:
            # while one airport's call is held, the pool keeps fetching the other airports
            assert fake.wait_for_flight_requests(1 + 2 * 2, timeout=10), fake.flight_requests()
            assert cycle.is_alive()
        finally:
            gate.set()
            cycle.join(timeout=15)
    assert sorted(m.key or "" for m in run.published) == ["LIRA", "LIRP", "LIRZ"]
