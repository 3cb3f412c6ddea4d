"""The collector's flight upsert (service.upsert_flights, one JSON document per batch) on the real
database: every column stored as given, new rows counted, a flight seen again updated and never
duplicated, repeats within one call collapsed, batches past UPSERT_BATCH."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from flightctl.services.data_collector import service
from tests.integration.data_collector.conftest import now


@pytest.fixture
def upsert(dc_engine: Engine) -> Iterator[Callable[[list[dict[str, Any]]], tuple[int, int]]]:
    def run(rows: list[dict[str, Any]]) -> tuple[int, int]:
        with Session(dc_engine) as session, session.begin():
            return service.upsert_flights(session, rows)

    yield run
    with dc_engine.begin() as connection:
        connection.execute(text("DELETE FROM flight_data WHERE source = 'upstest'"))


def opensky_flight(icao24: str, first: int, **changes: Any) -> dict[str, Any]:
    flight = {
        "icao24": icao24,
        "firstSeen": first,
        "lastSeen": first + 7200,
        "estDepartureAirport": "LIRF",
        "estArrivalAirport": None,
        "callsign": "AZA1 ",
        "estDepartureAirportHorizDistance": 1234,
        "estDepartureAirportVertDistance": 56,
        "estArrivalAirportHorizDistance": None,
        "estArrivalAirportVertDistance": None,
        "departureAirportCandidatesCount": 1,
        "arrivalAirportCandidatesCount": 0,
    }
    return {**flight, **changes}


def stored(engine: Engine, icao24: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT * FROM flight_data WHERE icao24 = :i AND source = 'upstest' ORDER BY first_seen"),
            {"i": icao24},
        )
        return [dict(row._mapping) for row in found]


def test_every_column_is_stored_and_a_flight_seen_again_is_updated(
    dc_engine: Engine, upsert: Callable[[list[dict[str, Any]]], tuple[int, int]]
) -> None:
    first = int((now() - timedelta(hours=5)).timestamp())
    row = service.to_row(opensky_flight("Ab12Cd", first, callsign="Zürich ✈ "), "upstest")
    assert row is not None
    assert upsert([row, dict(row)]) == (1, 1)  # the same flight twice in one call: written once

    [kept] = stored(dc_engine, "ab12cd")
    assert {k: kept[k] for k in row} == row  # instants, NULLs, integers and text as given
    assert kept["callsign"] == "Zürich ✈"

    again = service.to_row(opensky_flight("ab12cd", first, estArrivalAirport="egll", callsign="AZA9"), "upstest")
    assert again is not None
    assert upsert([again]) == (1, 0)  # seen again: updated, not new
    [updated] = stored(dc_engine, "ab12cd")
    assert (updated["id"], updated["est_arrival_airport"], updated["callsign"]) == (kept["id"], "EGLL", "AZA9")
    assert updated["fetched_at"] >= kept["fetched_at"]


def test_a_text_longer_than_its_column_is_cut_to_fit(
    dc_engine: Engine, upsert: Callable[[list[dict[str, Any]]], tuple[int, int]]
) -> None:
    first = int((now() - timedelta(hours=3)).timestamp())
    row = service.to_row(opensky_flight("cc0001", first), "upstest")
    assert row is not None
    assert upsert([{**row, "callsign": "X" * 40, "est_departure_airport": "ABCDEF"}]) == (1, 1)
    [kept] = stored(dc_engine, "cc0001")
    assert (kept["callsign"], kept["est_departure_airport"]) == ("X" * 16, "ABCD")


def test_batches_past_the_statement_size_are_all_written(
    dc_engine: Engine, upsert: Callable[[list[dict[str, Any]]], tuple[int, int]]
) -> None:
    first = int((now() - timedelta(days=1)).timestamp())
    total = service.UPSERT_BATCH + 7
    rows = [service.to_row(opensky_flight("ee0001", first + 60 * i), "upstest") for i in range(total)]
    assert upsert([r for r in rows if r is not None]) == (total, total)
    assert len(stored(dc_engine, "ee0001")) == total
    assert upsert([r for r in rows[:10] if r is not None]) == (10, 0)
