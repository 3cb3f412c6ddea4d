"""POST /collect on the real platform (PostgreSQL, Kafka) fed by the fake OpenSky (nightly
batch: today's flights are not served): the latest complete day (yesterday, with the day before
in the same call) fetched once and never again, flight_count exact for a known data set, one
to-alert-system message per interest with a threshold on every cycle, the collector's status,
and its metrics moving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from tests.conftest import Platform
from tests.fakes.opensky import make_flight
from tests.integration.data_collector.conftest import (
    create_user,
    read_messages,
    scrape,
    stored_count,
    yesterday,
)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def test_the_latest_day_is_fetched_once_and_counted_exactly(
    platform: Platform, dc_engine: Engine, new_airport: Callable[[], str]
) -> None:
    a, b = new_airport(), new_airport()
    y = yesterday()
    h = timedelta(hours=1)
    platform.opensky.add_flights(
        [
            make_flight("aa0001", ts(y + 4 * h), ts(y + 6 * h), b, a, "AZA101"),  # arrival on the day
            make_flight("aa0002", ts(y + 5 * h), ts(y + 7 * h), a, b, "AZA102"),  # departure on the day
            make_flight("aa0003", ts(y + 10 * h), ts(y + 12 * h), a, a, "AZA103"),  # round trip: both lists, once
            make_flight("aa0004", ts(y + 20 * h), ts(y + 22 * h), a, None, "AZA104"),  # departure, no arrival
            make_flight("aa0005", ts(y - 8 * h), ts(y - 6 * h), b, a, "AZA105"),  # the day before: stored, not counted
            make_flight("aa0006", ts(y + 6 * h), ts(y + 8 * h), b, b, "AZA106"),  # another airport
            make_flight("aa0007", ts(y + 25 * h), ts(y + 26 * h), b, a, "AZA107"),  # today: not served yet
        ]
    )
    watcher, silent = create_user(platform), create_user(platform)
    with platform.client("data-collector") as dc:
        watch = {"email": watcher, "airport_code": a, "high_value": 3, "low_value": 1}
        assert dc.post("/interests", json=watch).status_code == 201
        assert dc.post("/interests", json={"email": silent, "airport_code": a}).status_code == 201  # no threshold

        calls = len(platform.opensky.flight_requests())
        summaries = []
        for _ in range(2):  # the second cycle fetches nothing: the day is stored
            answer = dc.post("/collect")
            assert answer.status_code == 200, answer.text
            summaries.append(answer.json())
        stored = sorted(f["icao24"] for f in dc.get(f"/flights/{a}").json())
        status = dc.get("/collector/status")
        assert status.status_code == 200, status.text

    mine = [r for r in platform.opensky.flight_requests()[calls:] if r.query["airport"] == a]
    begin, end = ts(y - timedelta(days=1)), ts(y + timedelta(days=1)) - 1
    assert sorted((r.path, int(r.query["begin"]), int(r.query["end"])) for r in mine) == [
        ("/api/flights/arrival", begin, end),
        ("/api/flights/departure", begin, end),
    ]
    assert stored == ["aa0001", "aa0002", "aa0003", "aa0004", "aa0005"]
    assert stored_count(dc_engine, a) == 5
    first, second = ({x["airport"]: x for x in s["airports"]}[a] for s in summaries)
    assert first["source"] == second["source"] == "opensky" and first["day"] == y.date().isoformat()
    assert first["flight_count"] == second["flight_count"] == 4 and first["messages"] == second["messages"] == 1
    assert (first["fetches"], first["credits"], first["flights_stored"], first["flights_new"]) == (2, 60, 6, 5)
    assert (second["fetches"], second["credits"], second["flights_stored"]) == (0, 0, 0)
    assert summaries[0]["window_start"] == y.isoformat()

    messages = read_messages(platform, "to-alert-system", lambda v: v.get("user_email") == watcher, want=2)
    assert len(messages) == 2
    assert all(key == a for key, _ in messages)  # keyed by airport
    values = [v for _, v in messages]
    assert len({v["event_id"] for v in values}) == 2
    for value in values:
        assert value["flight_count"] == 4 and value["source"] == "opensky" and value["live"] is False
        assert (value["airport_code"], value["high_value"], value["low_value"]) == (a, 3, 1)
        start, finish = datetime.fromisoformat(value["window_start"]), datetime.fromisoformat(value["window_end"])
        assert (start, finish) == (y, y + timedelta(days=1))
    assert read_messages(platform, "to-alert-system", lambda v: v.get("user_email") == silent, want=1, timeout=1) == []

    (row,) = [x for x in status.json()["airports"] if x["airport"] == a]
    assert row["interests"] == {"daily": 2, "live": 0} and row["live"] is None
    assert row["reading"] == {"day": y.date().isoformat(), "flight_count": 4, "source": "opensky"}
    day_before = (y - timedelta(days=1)).date().isoformat()
    assert row["last_fetch"] == {
        "at": row["last_fetch"]["at"],
        "first_day": day_before,
        "last_day": y.date().isoformat(),
        "directions": ["arrival", "departure"],
        "source": "opensky",
        "rows": 6,  # aa0005 the day before; aa0001, aa0003 arriving; aa0002, aa0003, aa0004 departing
    }
    assert row["days_stored"] == 2  # yesterday and the day before
    credits = status.json()["credits"]["flights"]
    assert credits["per_day"] == 4000 and credits["reserve"] == 400 and credits["used_today"] >= 60
    assert credits["remaining"] <= 4000 - credits["used_today"]


def test_collector_metrics_are_exposed_and_move(platform: Platform, new_airport: Callable[[], str]) -> None:
    a = new_airport()
    y = yesterday()
    platform.opensky.add_flights([make_flight("bb0001", ts(y) + 7200, ts(y) + 9000, None, a, "ITY9")])
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
    assert grew("opensky_credits_used_total", family="flights")
    assert grew("collector_day_fetches_total", source="opensky")
    assert grew("collector_cycle_duration_seconds_count")
    assert grew("collector_cycles_total", outcome="ok")
    assert grew("collector_flights_stored_total", source="opensky")
    assert grew("collector_airports_total", source="opensky")
    assert grew("collector_messages_published_total")
    assert grew("collector_last_success_timestamp_seconds")
    assert after[("opensky_circuit_open", ())] == 0.0
    assert 0 <= after[("opensky_rate_limit_remaining", ())] < 4000
    assert after[("opensky_credits_remaining", (("family", "flights"),))] < 4000
