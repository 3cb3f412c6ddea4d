"""Flight queries through the API on a known data set stored in data-collector's own database:
type filter, newest first, paging, average per day, last flight; and the retention delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from tests.conftest import Platform
from tests.integration.data_collector.conftest import flight_row, insert_flights, now, stored_count


def test_list_average_and_last_on_a_known_data_set(
    platform: Platform, dc_engine: Engine, new_airport: Callable[[], str]
) -> None:
    x, other = new_airport(), new_airport()
    t = now()
    rows = []
    for i in range(24):  # one flight every 9 hours, newest first; arrivals, departures, one round trip
        last = t - timedelta(hours=1 + 9 * i)
        first = last - timedelta(hours=2)
        dep, arr = (other, x) if i % 3 == 0 else (x, other) if i % 3 == 1 else (x, x) if i == 5 else (other, x)
        rows.append(flight_row(f"f{i:05d}", first, last, dep, arr))
    rows.append(flight_row("zz0001", t - timedelta(hours=3), t - timedelta(minutes=30), other, None))  # not x
    insert_flights(dc_engine, rows)
    expected = [r["icao24"] for r in rows[:24]]  # inserted newest first

    with platform.client("data-collector") as dc:
        pages = [dc.get(f"/flights/{x.lower()}", params={"limit": 10, "offset": o}).json() for o in (0, 10, 20, 30)]
        assert [len(p) for p in pages] == [10, 10, 4, 0]
        assert [f["icao24"] for p in pages for f in p] == expected
        first = pages[0][0]
        assert first["est_arrival_airport"] == x and first["source"] == "opensky"
        assert first["last_seen"] == rows[0]["last_seen"].isoformat()
        assert len(dc.get(f"/flights/{x}").json()) == 24  # default limit 100

        arrivals = dc.get(f"/flights/{x}", params={"type": "arrivals"}).json()
        departures = dc.get(f"/flights/{x}", params={"type": "departures", "limit": 3, "offset": 1}).json()
        assert [f["icao24"] for f in arrivals] == [r["icao24"] for r in rows[:24] if r["arr"] == x]
        assert [f["icao24"] for f in departures] == [r["icao24"] for r in rows[:24] if r["dep"] == x][1:4]

        # last 3 days: flights whose last_seen is within 72 h are i = 0..7 (1 h .. 64 h ago)
        assert dc.get(f"/flights/average/{x}", params={"days": 3}).json() == {
            "airport": x,
            "average_flights_per_day": round(8 / 3, 2),
            "days": 3,
        }
        assert dc.get(f"/flights/average/{x}", params={"days": 30}).json()["average_flights_per_day"] == 0.8
        assert dc.get(f"/flights/average/{x}").json()["days"] == 7  # default
        last = dc.get(f"/flights/last/{x}").json()
        assert last["icao24"] == "f00000" and last["last_seen"] == rows[0]["last_seen"].isoformat()
        assert dc.get(f"/flights/last/{other}").json()["icao24"] == "zz0001"


def test_a_cycle_deletes_flights_older_than_the_retention(
    platform: Platform, dc_engine: Engine, new_airport: Callable[[], str]
) -> None:
    x = new_airport()
    t = now()
    insert_flights(
        dc_engine,
        [
            flight_row("old001", t - timedelta(days=40), t - timedelta(days=40) + timedelta(hours=2), x, None),
            flight_row("old002", t - timedelta(days=31), t - timedelta(days=30, minutes=1), None, x),
            flight_row("new001", t - timedelta(days=29, hours=23), t - timedelta(days=29, hours=22), x, None),
        ],
    )
    assert stored_count(dc_engine, x) == 3
    with platform.client("data-collector") as dc:
        assert dc.post("/collect").status_code == 200
        assert [f["icao24"] for f in dc.get(f"/flights/{x}").json()] == ["new001"]  # FLIGHT_RETENTION_DAYS=30
