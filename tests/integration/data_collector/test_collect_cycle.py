"""A collection cycle on the real platform (PostgreSQL, Kafka) fed by the fake OpenSky: each
flight stored once however often it is fetched, flight_count exact for a known data set, one
to-alert-system message per interest with a threshold, and the collector's metrics moving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from tests.conftest import Platform
from tests.fakes.opensky import make_flight
from tests.integration.data_collector.conftest import create_user, now, read_messages, scrape, stored_count


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def test_flights_are_stored_once_and_counted_exactly(
    platform: Platform, dc_engine: Engine, new_airport: Callable[[], str]
) -> None:
    a, b = new_airport(), new_airport()
    t = now()
    h = timedelta(hours=1)
    platform.opensky.add_flights(
        [
            make_flight("aa0001", ts(t - 4 * h), ts(t - 2 * h), b, a, "AZA101"),  # arrival inside
            make_flight("aa0002", ts(t - 5 * h), ts(t - 3 * h), a, b, "AZA102"),  # departure inside
            make_flight("aa0003", ts(t - 10 * h), ts(t - 8 * h), a, a, "AZA103"),  # round trip: both lists, once
            make_flight("aa0004", ts(t - 23 * h), ts(t - 21 * h), a, None, "AZA104"),  # departure, no arrival
            make_flight("aa0005", ts(t - 32 * h), ts(t - 30 * h), b, a, "AZA105"),  # landed before the window
            make_flight("aa0006", ts(t - 6 * h), ts(t - 4 * h), b, b, "AZA106"),  # another airport
        ]
    )
    watcher, silent = create_user(platform), create_user(platform)
    with platform.client("data-collector") as dc:
        watch = {"email": watcher, "airport_code": a, "high_value": 3, "low_value": 1}
        assert dc.post("/interests", json=watch).status_code == 201
        assert dc.post("/interests", json={"email": silent, "airport_code": a}).status_code == 201  # no threshold

        summaries = []
        for _ in range(2):  # the same flights fetched twice
            answer = dc.post("/collect")
            assert answer.status_code == 200, answer.text
            summaries.append(answer.json())
        stored = sorted(f["icao24"] for f in dc.get(f"/flights/{a}").json())

    assert stored == ["aa0001", "aa0002", "aa0003", "aa0004"]
    assert stored_count(dc_engine, a) == 4
    for i, summary in enumerate(summaries):
        (mine,) = [x for x in summary["airports"] if x["airport"] == a]
        assert mine["source"] == "opensky" and mine["flight_count"] == 4 and mine["messages"] == 1
        assert (mine["flights_stored"], mine["flights_new"]) == (4, 4 if i == 0 else 0)
        assert summary["messages_published"] >= 1

    messages = read_messages(platform, "to-alert-system", lambda v: v.get("user_email") == watcher, want=2)
    assert len(messages) == 2
    assert all(key == a for key, _ in messages)  # keyed by airport
    values = [v for _, v in messages]
    assert len({v["event_id"] for v in values}) == 2
    for value in values:
        assert value["flight_count"] == 4 and value["source"] == "opensky"
        assert (value["airport_code"], value["high_value"], value["low_value"]) == (a, 3, 1)
        start, end = datetime.fromisoformat(value["window_start"]), datetime.fromisoformat(value["window_end"])
        assert end - start == timedelta(hours=24) and start <= t - 23 * h and end >= t
    assert read_messages(platform, "to-alert-system", lambda v: v.get("user_email") == silent, want=1, timeout=1) == []


def test_collector_metrics_are_exposed_and_move(platform: Platform, new_airport: Callable[[], str]) -> None:
    a = new_airport()
    t = now()
    platform.opensky.add_flights([make_flight("bb0001", ts(t) - 7200, ts(t) - 600, None, a, "ITY9")])
    email = create_user(platform)
    with platform.client("data-collector") as dc:
        assert dc.post("/interests", json={"email": email, "airport_code": a, "high_value": 0}).status_code == 201
        before = scrape(platform)
        assert dc.post("/collect").status_code == 200
    after = scrape(platform)

    def grew(name: str, **labels: str) -> bool:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) > before.get(key, 0.0)

    assert grew("opensky_calls_total", outcome="ok")
    assert grew("opensky_calls_total", outcome="empty")  # the departures call: 404
    assert grew("opensky_fetch_duration_seconds_count", airport_code=a)
    assert grew("collector_cycle_duration_seconds_count")
    assert grew("collector_cycles_total", outcome="ok")
    assert grew("collector_flights_stored_total", source="opensky")
    assert grew("collector_airports_total", source="opensky")
    assert grew("collector_messages_published_total")
    assert grew("collector_last_success_timestamp_seconds")
    assert after[("opensky_circuit_open", ())] == 0.0
    assert 0 <= after[("opensky_rate_limit_remaining", ())] < 4000
