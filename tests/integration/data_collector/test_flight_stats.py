"""GET /flights/stats/<icao> on the real database: its counts per UTC day and hour equal counts
made by plain SQL over the same rows, empty days are 0, the type filter, and every bad parameter
is a 400 with a JSON message."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.conftest import Platform
from tests.integration.data_collector.conftest import flight_row, insert_flights

SQL_COUNT = text(
    "SELECT count(DISTINCT id) FROM flight_data WHERE"
    " (:kind <> 'departures' AND est_arrival_airport = :a AND last_seen >= :s AND last_seen < :e)"
    " OR (:kind <> 'arrivals' AND est_departure_airport = :a AND first_seen >= :s AND first_seen < :e)"
)


def sql_counts(engine: Engine, airport: str, starts: list[datetime], step: timedelta, kind: str) -> list[int]:
    """Counted one bucket at a time, as a person would check them."""
    with engine.connect() as connection:
        return [
            int(connection.execute(SQL_COUNT, {"a": airport, "s": s, "e": s + step, "kind": kind}).scalar_one())
            for s in starts
        ]


def test_counts_per_day_and_hour_equal_the_sql_counts(
    platform: Platform, dc_engine: Engine, new_airport: Callable[[], str]
) -> None:
    x, other = new_airport(), new_airport()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = timedelta(days=1)
    rows = [
        # 3 days ago: two arrivals (one at 00:00:00 exactly), one departure counted at its first_seen
        flight_row("a00001", today - 3 * day - timedelta(hours=2), today - 3 * day, other, x),
        flight_row("a00002", today - 3 * day + timedelta(hours=5), today - 3 * day + timedelta(hours=7), other, x),
        flight_row("d00001", today - 3 * day + timedelta(hours=23), today - 2 * day + timedelta(hours=1), x, other),
        # 2 days ago: nothing (the departure above landed then, elsewhere); 1 day ago: a round trip
        # inside the day (counted once) and an arrival at 23:59:59
        flight_row("r00001", today - day + timedelta(hours=8), today - day + timedelta(hours=10), x, x),
        flight_row("a00003", today - day + timedelta(hours=20), today - timedelta(seconds=1), other, x),
        # 8 days ago: outside a 7-day window; and a flight of another airport only
        flight_row("a00004", today - 8 * day, today - 8 * day + timedelta(hours=1), other, x),
        flight_row("z00001", today - day, today - day + timedelta(hours=1), other, other),
    ]
    insert_flights(dc_engine, rows)

    with platform.client("data-collector") as dc:
        answer = dc.get(f"/flights/stats/{x.lower()}", params={"days": 7})
        assert answer.status_code == 200, answer.text
        stats = answer.json()
        starts = [today - (6 - i) * day for i in range(7)]
        assert [b["start"] for b in stats["buckets"]] == [s.isoformat() for s in starts]
        assert [b["flights"] for b in stats["buckets"]] == [0, 0, 0, 3, 0, 2, 0]  # by hand
        assert [b["flights"] for b in stats["buckets"]] == sql_counts(dc_engine, x, starts, day, "all")
        assert stats["airport"] == x and stats["type"] == "all" and stats["granularity"] == "day"
        assert stats["total"] == 5 and stats["start"] == starts[0].isoformat()
        assert stats["end"] == (today + day).isoformat()

        for kind, by_hand in (("arrivals", [0, 0, 0, 2, 0, 2, 0]), ("departures", [0, 0, 0, 1, 0, 1, 0])):
            got = dc.get(f"/flights/stats/{x}", params={"days": 7, "type": kind}).json()
            assert got["type"] == kind
            assert [b["flights"] for b in got["buckets"]] == by_hand == sql_counts(dc_engine, x, starts, day, kind)

        hourly = dc.get(f"/flights/stats/{x}", params={"days": 4, "granularity": "hour"}).json()
        hours = [datetime.fromisoformat(b["start"]) for b in hourly["buckets"]]
        assert hours[0] == today - 3 * day and all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(hours))
        now_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        assert hours[-1] in (now_hour, now_hour - timedelta(hours=1))  # the current hour (a tick may pass)
        counts = [b["flights"] for b in hourly["buckets"]]
        assert counts == sql_counts(dc_engine, x, hours, timedelta(hours=1), "all")
        # the round trip left at 08:00 and came back at 10:00: one flight in each of those hours
        assert sum(counts) == 6 and counts[0] == 1 and counts[23] == 1  # 00:00 and the departure at 23:00
        assert counts[2 * 24 + 8] == counts[2 * 24 + 10] == 1

        wide = dc.get(f"/flights/stats/{x}", params={"days": 10}).json()
        assert len(wide["buckets"]) == 10 and wide["buckets"][1]["flights"] == 1  # the 8-day-old arrival

        assert [b["flights"] for b in dc.get(f"/flights/stats/{new_airport()}").json()["buckets"]] == [0] * 7


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/flights/stats/LIRF?days=0", "days must be an integer from 1 to 365"),
        ("/flights/stats/LIRF?days=366", "days must be an integer from 1 to 365"),
        ("/flights/stats/LIRF?days=seven", "days must be an integer from 1 to 365"),
        ("/flights/stats/LIRF?days=32&granularity=hour", "days must be an integer from 1 to 31"),
        ("/flights/stats/LIRF?type=arrival", "type must be arrivals or departures"),
        ("/flights/stats/LIRF?granularity=minute", "granularity must be day or hour"),
        ("/flights/stats/LIRFX", "the airport must be an ICAO code"),
        ("/flights/stats/LI-F", "the airport must be an ICAO code"),
    ],
)
def test_bad_parameters_are_a_400_with_a_message(platform: Platform, path: str, message: str) -> None:
    with platform.client("data-collector") as dc:
        answer = dc.get(path)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_the_stats_need_the_token(platform: Platform) -> None:
    answer = httpx.get(platform.url("data-collector") + "/flights/stats/LIRF", timeout=30)
    assert answer.status_code == 401 and answer.json()["error"]
