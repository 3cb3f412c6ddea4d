from datetime import UTC, datetime

from flightctl.services.data_collector.service import count_in_window, to_row

START = datetime(2026, 11, 29, 12, tzinfo=UTC)
END = datetime(2026, 11, 30, 12, tzinfo=UTC)


def flight(icao24: str, first: int, last: int, dep: str | None, arr: str | None) -> dict:  # type: ignore[type-arg]
    row = to_row(
        {
            "icao24": icao24,
            "firstSeen": first,
            "lastSeen": last,
            "estDepartureAirport": dep,
            "estArrivalAirport": arr,
            "callsign": "AZA1  ",
        },
        "opensky",
    )
    assert row is not None
    return row


def test_distinct_flights_arriving_or_departing_inside_the_window() -> None:
    s, e = int(START.timestamp()), int(END.timestamp())
    rows = [
        flight("a1", s + 10, s + 100, "EDDF", "LIRF"),  # arrival inside
        flight("a1", s + 10, s + 100, "EDDF", "LIRF"),  # the same flight fetched twice
        flight("b2", s + 50, e + 100, "LIRF", "EGLL"),  # departure inside (landed after the window)
        flight("c3", s - 500, s - 10, "EDDF", "LIRF"),  # arrived before the window
        flight("d4", s + 50, s + 90, "EDDF", "LFPG"),  # another airport
    ]
    assert count_in_window(rows, "LIRF", START, END) == 2


def test_rows_normalise_codes_and_reject_flights_without_identity() -> None:
    row = flight("ABC123", 1, 2, "lirf", None)
    assert row["icao24"] == "abc123" and row["est_departure_airport"] == "LIRF" and row["callsign"] == "AZA1"
    assert to_row({"icao24": "x", "lastSeen": 3}, "opensky") is None
