"""The collector itself (no HTTP) on a database of its own, with an injected clock: OpenSky
failing with the simulated fallback on (a whole day stored as source='mock', the same rows
however often it is collected, replaced by OpenSky's once OpenSky answers again) and off
(nothing published: no data is not zero), 404 meaning zero, and calls made concurrently."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from tests.fakes.opensky import FakeOpenSky, Fault, make_flight
from tests.integration.data_collector.conftest import Rig, SimClock, make_rig

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
YESTERDAY = date(2026, 11, 19)
Y0 = int(datetime(2026, 11, 19, tzinfo=UTC).timestamp())


@pytest.fixture
def dead_opensky() -> str:
    """The URL of an OpenSky that refuses connections (a fake, stopped)."""
    fake = FakeOpenSky().start()
    fake.stop()
    return fake.api_url


@pytest.fixture
def fake() -> Iterator[FakeOpenSky]:
    with FakeOpenSky(clock=lambda: NOW.timestamp()) as server:
        yield server


def rig(engine: Engine, url: str, *, fallback: bool) -> Rig:
    return make_rig(engine, url, SimClock(NOW), fallback=fallback)


def test_fallback_on_stores_a_simulated_day_marked_mock(own_database: Engine, dead_opensky: str) -> None:
    run = rig(own_database, dead_opensky, fallback=True)
    run.watch("LIPE")
    summary = run.collector.run_cycle().as_dict()
    (result,) = summary["airports"]
    assert result["source"] == "mock" and result["day"] == YESTERDAY.isoformat()
    assert result["flights_stored"] > 0 and result["credits"] == 0 and "unreachable" in result["error"]
    stored = run.flights("LIPE")
    assert len(stored) == result["flights_stored"] and {f.source for f in stored} == {"mock"}
    days = run.days()
    assert {days[("LIPE", d, YESTERDAY)] for d in ("arrival", "departure")} == {"mock"}
    (message,) = run.published
    assert message.key == "LIPE" and message.value["source"] == "mock" and message.value["live"] is False
    counted = [
        f
        for f in stored
        if (f.est_arrival_airport == "LIPE" and f.last_seen.date() == YESTERDAY)
        or (f.est_departure_airport == "LIPE" and f.first_seen.date() == YESTERDAY)
    ]
    assert message.value["flight_count"] == result["flight_count"] == len(counted) > 0
    assert message.value["window_start"] == "2026-11-19T00:00:00+00:00"
    assert run.sample("collector_day_fetches_total", source="mock") == 2
    assert run.sample("collector_flights_stored_total", source="mock") == len(stored)
    assert run.sample("collector_cycles_total", outcome="ok") == 1
    assert run.sample("collector_last_success_timestamp_seconds") > 0


def test_two_collections_in_a_row_over_the_fallback_store_the_same_rows_once(
    own_database: Engine, dead_opensky: str
) -> None:
    run = rig(own_database, dead_opensky, fallback=True)
    run.watch("LIPE", "LIRA")
    first = {a["airport"]: a for a in run.collector.run_cycle().as_dict()["airports"]}
    before = {code: [(f.icao24, f.first_seen) for f in run.flights(code)] for code in ("LIPE", "LIRA")}
    run.clock.advance(seconds=2)  # a second `flightctl collect` a moment later
    second = {a["airport"]: a for a in run.collector.run_cycle().as_dict()["airports"]}
    after = {code: [(f.icao24, f.first_seen) for f in run.flights(code)] for code in ("LIPE", "LIRA")}
    assert after == before and all(len(rows) == len(set(rows)) for rows in after.values())
    for code in ("LIPE", "LIRA"):
        assert first[code]["flights_new"] == first[code]["flights_stored"] > 0
        # the second asks OpenSky again for the latest day only (the first also took the day before)
        assert 0 < second[code]["flights_stored"] < first[code]["flights_stored"] and second[code]["flights_new"] == 0
        assert second[code]["flight_count"] == first[code]["flight_count"]


def test_opensky_replaces_the_simulated_day_once_it_answers(own_database: Engine, fake: FakeOpenSky) -> None:
    fake.add_flights([make_flight("abc001", Y0 + 3600, Y0 + 7200, "EDDF", "LIPE", "DLH1")])
    run = rig(own_database, fake.api_url, fallback=True)
    run.watch("LIPE")
    fake.queue_faults(Fault(status=503), Fault(status=503))
    simulated = run.collector.run_cycle().as_dict()["airports"][0]
    assert simulated["source"] == "mock" and len(run.flights("LIPE")) > 1
    real = run.collector.run_cycle().as_dict()["airports"][0]  # OpenSky is back: the day is asked again
    assert real["source"] == "opensky" and real["flight_count"] == 1 and real["error"] is None
    on_the_day = [
        (f.icao24, f.source)
        for f in run.flights("LIPE")
        if (f.est_arrival_airport == "LIPE" and f.last_seen.date() == YESTERDAY)
        or (f.est_departure_airport == "LIPE" and f.first_seen.date() == YESTERDAY)
    ]
    assert on_the_day == [("abc001", "opensky")]  # the simulated rows of that day are gone
    days = run.days()
    assert {days[("LIPE", d, YESTERDAY)] for d in ("arrival", "departure")} == {"opensky"}
    before = date(2026, 11, 18)  # the day before came with the first call: still simulated, asked later
    assert {days[("LIPE", d, before)] for d in ("arrival", "departure")} == {"mock"}
    calls = len(fake.flight_requests())
    run.collector.run_cycle()
    assert len(fake.flight_requests()) == calls  # stored from OpenSky: never asked again


def test_fallback_off_publishes_nothing_when_opensky_fails(own_database: Engine, dead_opensky: str) -> None:
    run = rig(own_database, dead_opensky, fallback=False)
    run.watch("LIBD")
    (result,) = run.collector.run_cycle().as_dict()["airports"]
    assert result["source"] == "unavailable" and "unreachable" in result["error"]
    assert result["flight_count"] is None and result["messages"] == 0 and result["day"] is None
    assert run.published == [] and run.flights("LIBD") == [] and run.days() == {}
    assert run.sample("collector_day_fetches_total", source="failed") == 2
    assert run.sample("opensky_fetch_duration_seconds_count", airport_code="LIBD") == 2
    # Every call failed: a failed cycle, and the staleness the SLA detector watches keeps growing.
    assert run.sample("collector_cycles_total", outcome="failed") == 1
    assert run.sample("collector_cycles_total", outcome="ok") == 0
    assert run.sample("collector_last_success_timestamp_seconds") == 0
    assert run.sample("collector_started_timestamp_seconds") > 0


def test_no_flights_from_opensky_is_a_count_of_zero(own_database: Engine, fake: FakeOpenSky) -> None:
    run = rig(own_database, fake.api_url, fallback=False)  # the fake knows no flights: 404 for both lists
    run.watch("LIBP")
    (result,) = run.collector.run_cycle().as_dict()["airports"]
    windows = {(r.path, r.query["begin"], r.query["end"]) for r in fake.flight_requests()}
    begin, end = str(Y0 - 86400), str(Y0 + 86400 - 1)  # the latest day and the one before, one call each
    assert windows == {("/api/flights/arrival", begin, end), ("/api/flights/departure", begin, end)}
    assert result["source"] == "opensky" and result["flight_count"] == 0 and result["credits"] == 60
    (message,) = run.published
    assert message.value["flight_count"] == 0 and message.value["source"] == "opensky"


def test_calls_are_made_concurrently(own_database: Engine, fake: FakeOpenSky) -> None:
    run = rig(own_database, fake.api_url, fallback=False)
    run.watch("LIRA", "LIRP", "LIRZ")
    gate = threading.Event()
    fake.queue_faults(Fault(gate=gate))  # the first OpenSky call hangs until released
    cycle = threading.Thread(target=run.collector.run_cycle)
    cycle.start()
    try:
        # while one call is held, the pool keeps making the others
        assert fake.wait_for_flight_requests(1 + 2, timeout=10), fake.flight_requests()
        assert cycle.is_alive()
    finally:
        gate.set()
        cycle.join(timeout=15)
    assert sorted(m.key or "" for m in run.published) == ["LIRA", "LIRP", "LIRZ"]
    # the ledger counts what OpenSky charged: six two-day calls of 30 credits (anonymous bucket: 400)
    assert run.collector.ledger.budget("flights", NOW).used == 6 * 30 == 400 - fake.credits(anonymous=True)


def test_a_day_is_not_published_twice_to_the_same_interest(own_database: Engine, fake: FakeOpenSky) -> None:
    run = rig(own_database, fake.api_url, fallback=False)
    run.watch("LIBR")
    run.collector.tick()  # 12:00, nothing stored: the plan makes its first call (arrivals), no day complete
    assert run.published == [] and len(fake.flight_requests()) == 1
    run.clock.advance(hours=6)  # the paced calls go on: departures too
    run.collector.tick()
    assert len(run.published) == 1 and run.published[0].value["window_start"].startswith("2026-11-19")
    run.clock.advance(minutes=5)
    run.collector.tick()
    assert len(run.published) == 1  # told of that day already
    run.collector.run_cycle()
    assert len(run.published) == 2  # POST /collect tells every interest again
