"""Simulated flights for when OpenSky cannot answer and OPENSKY_MOCK_FALLBACK is on.

Flights use real ICAO airport codes (airportsdata) and look like OpenSky's; they are stored with
source='mock' and every message and log line says so."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any


def mock_flights(airport: str, begin: int, end: int, airports: Sequence[str], seed: str = "") -> list[dict[str, Any]]:
    """A plausible, reproducible set of arrivals and departures for ``airport`` in [begin, end]."""
    digest = hashlib.sha256(f"{airport}:{begin // 3600}:{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    flights = []
    for _ in range(rng.randint(3, 15)):
        other = rng.choice(airports)
        first_seen = rng.randint(begin, max(begin, end - 600))
        last_seen = min(end, first_seen + rng.randint(1800, 4 * 3600))
        arriving = rng.random() < 0.5
        flights.append(
            {
                "icao24": f"{rng.getrandbits(24):06x}",
                "firstSeen": first_seen,
                "lastSeen": last_seen,
                "estDepartureAirport": other if arriving else airport,
                "estArrivalAirport": airport if arriving else other,
                "callsign": f"{rng.choice(['AZA', 'RYR', 'DLH', 'AFR', 'EZY', 'ITY'])}{rng.randint(10, 9999)}",
                "estDepartureAirportHorizDistance": rng.randint(100, 5000),
                "estDepartureAirportVertDistance": rng.randint(10, 500),
                "estArrivalAirportHorizDistance": rng.randint(100, 5000),
                "estArrivalAirportVertDistance": rng.randint(10, 500),
                "departureAirportCandidatesCount": rng.randint(0, 3),
                "arrivalAirportCandidatesCount": rng.randint(0, 3),
            }
        )
    return flights
