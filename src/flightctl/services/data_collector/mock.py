"""Simulated OpenSky data, for when OpenSky cannot answer and a fallback is on
(OPENSKY_MOCK_FALLBACK for flights, OPENSKY_LIVE_MOCK_FALLBACK for live state vectors).

The simulation is one world on an absolute time grid, so it behaves like data:

- **Deterministic.** Every UTC hour ``h`` (``unix_time // 3600``) has one set of departures
  world-wide, drawn from a generator seeded with ``h`` alone: asking twice for the same window
  gives the same flights (same ``icao24`` and ``firstSeen``), whenever and however the window
  is cut, so collecting it twice stores nothing new.
- **Consistent.** A flight is drawn with its origin and destination, so a flight from A to B is
  a departure at A (``firstSeen``) and an arrival at B (``lastSeen`` = ``firstSeen`` + a duration
  from the great-circle distance), and the live state vectors are those same flights on the
  ground or in the air near their airports.
- **Sized.** Origins and destinations are drawn with a weight by airport size (the rule below),
  so volumes differ by airport: :data:`FLIGHTS_PER_HOUR` departures an hour world-wide, each
  end drawn with weight :data:`WEIGHTS` of its size class. An airport of weight ``w`` sees
  about ``2 * 24 * FLIGHTS_PER_HOUR * w / W`` movements a day, ``W`` the world's total weight
  (about 111,000): roughly 1,000 at a hub, 26 at a regional airport, 3 at an airfield.

Size classes: ``hub`` for the airports in :data:`HUBS` (the world's busiest), ``regional`` for
any other airport with an IATA code (scheduled service), ``airfield`` for the rest.

Flights and state vectors look like OpenSky's and use real ICAO codes (airportsdata); they are
stored with ``source = mock`` and every message and alert says so.
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from typing import Any

HOUR = 3600
FLIGHTS_PER_HOUR = 6000
WEIGHTS = {"hub": 400, "regional": 10, "airfield": 1}
HUBS = frozenset(
    {
        # North America
        "KATL", "KORD", "KDFW", "KDEN", "KLAX", "KJFK", "KLAS", "KCLT", "KPHX", "KIAH", "KMCO",
        "KSEA", "KSFO", "KEWR", "KMIA", "CYYZ", "MMMX",
        # Europe
        "EGLL", "LFPG", "EHAM", "EDDF", "LEMD", "LEBL", "LIRF", "LTFM", "EDDM", "LSZH", "LOWW",
        # Middle East, Africa
        "OMDB", "OTHH", "OEJN", "HECA", "FAOR",
        # Asia, Oceania
        "VIDP", "VABB", "ZBAA", "ZSPD", "ZGGG", "ZUUU", "RJTT", "RKSI", "VHHH", "WSSS", "VTBS",
        "WIII", "RPLL", "YSSY",
        # South America
        "SBGR", "SCEL", "SKBO",
    }
)  # fmt: skip
"""The hubs: the busiest airports of each region by movements."""
MAX_DURATION = 16 * HOUR
"""No simulated flight lasts longer (the arrivals of a window start this much earlier)."""
CRUISE_KMH = 800.0
TAXI_SECONDS = 15 * 60
"""A departing aircraft is on the ground this long before ``firstSeen``, an arriving one after
``lastSeen``."""
CLIMB_MS, CLIMB_SPEED_MS = 8.0, 120.0
"""Vertical and ground speed after take-off and, the other way round, before landing."""
AIRLINES = ("AZA", "RYR", "DLH", "AFR", "EZY", "BAW", "KLM", "ITY", "SWR", "IBE", "THY", "UAE", "DAL", "AAL")
EARTH_KM = 6371.0
CACHE_HOURS = 256


def size_class(code: str, info: Mapping[str, Any]) -> str:
    """The documented size rule: hub, regional (has an IATA code) or airfield."""
    if code in HUBS:
        return "hub"
    return "regional" if info.get("iata") else "airfield"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in ("flightctl-mock", *parts)).encode()).digest()


class World:
    """The simulated world over a set of airports (``{icao: {"lat", "lon", "iata", ...}}``, the
    shape of ``airportsdata.load("ICAO")``)."""

    def __init__(self, airports: Mapping[str, Mapping[str, Any]]) -> None:
        self.codes = sorted(airports)
        self.index = {code: i for i, code in enumerate(self.codes)}
        self.lat = [float(airports[c].get("lat") or 0.0) for c in self.codes]
        self.lon = [float(airports[c].get("lon") or 0.0) for c in self.codes]
        self.country = [str(airports[c].get("country") or "") for c in self.codes]
        self.size = [size_class(c, airports[c]) for c in self.codes]
        total, cumulative = 0, []
        for size in self.size:
            total += WEIGHTS[size]
            cumulative.append(total)
        self.total_weight = total
        self._cumulative = cumulative
        if len(self.codes) >= 1 << 16:
            raise ValueError("the simulated world holds at most 65535 airports")
        self._hours: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def expected_movements_per_day(self, code: str) -> float:
        """Departures plus arrivals a day on average (the size rule, as a number)."""
        return 2 * 24 * FLIGHTS_PER_HOUR * WEIGHTS[self.size[self.index[code]]] / self.total_weight

    # -- the grid ---------------------------------------------------------------------------
    def _hour(self, hour: int) -> tuple[bytes, bytes]:
        """(origins, destinations) of the departures of one UTC hour: airport indexes as
        unsigned 16-bit machine words (searched with bytes.find, at C speed)."""
        with self._lock:
            found = self._hours.get(hour)
            if found is not None:
                self._hours.move_to_end(hour)
                return found
        rng = random.Random(int.from_bytes(_digest("hour", hour)[:8], "big"))
        population = range(len(self.codes))
        origins = array("H", rng.choices(population, cum_weights=self._cumulative, k=FLIGHTS_PER_HOUR)).tobytes()
        destinations = array("H", rng.choices(population, cum_weights=self._cumulative, k=FLIGHTS_PER_HOUR)).tobytes()
        with self._lock:
            self._hours[hour] = (origins, destinations)
            while len(self._hours) > CACHE_HOURS:
                self._hours.popitem(last=False)
        return origins, destinations

    def _flight(self, hour: int, n: int, origin: int, destination: int) -> dict[str, Any]:
        d = _digest("flight", hour, n)
        first_seen = hour * HOUR + int.from_bytes(d[0:2], "big") % HOUR
        km = distance_km(self.lat[origin], self.lon[origin], self.lat[destination], self.lon[destination])
        duration = min(MAX_DURATION, int(1200 + km / CRUISE_KMH * 3600))
        return {
            "icao24": d[2:5].hex(),
            "firstSeen": first_seen,
            "estDepartureAirport": self.codes[origin],
            "lastSeen": first_seen + duration,
            "estArrivalAirport": self.codes[destination],
            "callsign": f"{AIRLINES[d[5] % len(AIRLINES)]}{10 + int.from_bytes(d[6:8], 'big') % 9990}".ljust(8),
            "estDepartureAirportHorizDistance": 200 + d[8] * 10,
            "estDepartureAirportVertDistance": 10 + d[9],
            "estArrivalAirportHorizDistance": 200 + d[10] * 10,
            "estArrivalAirportVertDistance": 10 + d[11],
            "departureAirportCandidatesCount": 1,
            "arrivalAirportCandidatesCount": 1,
        }

    def _touching(self, airport: int, first_hour: int, last_hour: int, departing: bool) -> list[dict[str, Any]]:
        flights = []
        for hour in range(first_hour, last_hour + 1):
            origins, destinations = self._hour(hour)
            for n in _positions(origins if departing else destinations, airport):
                o, d = _word(origins, n), _word(destinations, n)
                if o != d:
                    flights.append(self._flight(hour, n, o, d))
        return flights

    # -- OpenSky's two flight lists -----------------------------------------------------------
    def departures(self, code: str, begin: int, end: int) -> list[dict[str, Any]]:
        """Flights that left ``code`` with ``firstSeen`` in [begin, end], as /flights/departure."""
        airport = self.index.get(code.upper())
        if airport is None or end < begin:
            return []
        found = self._touching(airport, begin // HOUR, end // HOUR, departing=True)
        return [f for f in found if begin <= f["firstSeen"] <= end]

    def arrivals(self, code: str, begin: int, end: int) -> list[dict[str, Any]]:
        """Flights that reached ``code`` with ``lastSeen`` in [begin, end], as /flights/arrival."""
        airport = self.index.get(code.upper())
        if airport is None or end < begin:
            return []
        found = self._touching(airport, (begin - MAX_DURATION) // HOUR, end // HOUR, departing=False)
        return [f for f in found if begin <= f["lastSeen"] <= end]

    def flights(self, code: str, direction: str, begin: int, end: int) -> list[dict[str, Any]]:
        """``direction``: arrival or departure."""
        return self.arrivals(code, begin, end) if direction == "arrival" else self.departures(code, begin, end)

    # -- live state vectors -------------------------------------------------------------------
    def airports_in(self, lamin: float, lomin: float, lamax: float, lomax: float) -> list[int]:
        return [i for i in range(len(self.codes)) if lamin <= self.lat[i] <= lamax and lomin <= self.lon[i] <= lomax]

    def states(self, lamin: float, lomin: float, lamax: float, lomax: float, at: int) -> list[list[Any]]:
        """The state vectors, at ``at``, of the simulated flights near the airports inside the
        box (on the ground around their departure or arrival, or climbing or descending close
        to the airport), those inside the box only, as /states/all's ``states``."""
        inside = set(self.airports_in(lamin, lomin, lamax, lomax))
        if not inside:
            return []
        near = TAXI_SECONDS + 3600  # seconds either side of a movement in which it is around
        vectors: dict[str, list[Any]] = {}
        for hour in range((at - MAX_DURATION - near) // HOUR, (at + near) // HOUR + 1):
            origins, destinations = self._hour(hour)
            found = {n for a in inside for words in (origins, destinations) for n in _positions(words, a)}
            for n in sorted(found):
                o, d = _word(origins, n), _word(destinations, n)
                if o == d:
                    continue
                flight = self._flight(hour, n, o, d)
                state = self._state(flight, o, d, at, o in inside, d in inside)
                if state is not None and lamin <= state[6] <= lamax and lomin <= state[5] <= lomax:
                    vectors[flight["icao24"]] = state
        return [vectors[k] for k in sorted(vectors)]

    def _state(
        self, flight: dict[str, Any], o: int, d: int, at: int, from_inside: bool, to_inside: bool
    ) -> list[Any] | None:
        dep, arr = flight["firstSeen"], flight["lastSeen"]
        if from_inside and dep - TAXI_SECONDS <= at < dep:
            return self._vector(flight, self.lat[o], self.lon[o], 0.0, True, 0.0, 0.0, at, o)
        if to_inside and arr <= at < arr + TAXI_SECONDS:
            return self._vector(flight, self.lat[d], self.lon[d], 0.0, True, 0.0, 0.0, at, o)
        if from_inside and dep <= at < min(arr, dep + 3600):
            seconds = at - dep
            return self._airborne(flight, o, d, seconds, CLIMB_MS, at)
        if to_inside and max(dep, arr - 3600) <= at < arr:
            seconds = arr - at
            return self._airborne(flight, d, o, seconds, -CLIMB_MS, at)
        return None

    def _airborne(self, flight: dict[str, Any], near: int, far: int, seconds: int, rate: float, at: int) -> list[Any]:
        """``seconds`` after take-off from ``near`` towards ``far`` (or before landing at ``near``
        from ``far``): on the straight line between them, at climb speed."""
        total = distance_km(self.lat[near], self.lon[near], self.lat[far], self.lon[far]) or 1.0
        share = min(1.0, seconds * CLIMB_SPEED_MS / 1000.0 / total)
        lat = self.lat[near] + (self.lat[far] - self.lat[near]) * share
        lon = self.lon[near] + (self.lon[far] - self.lon[near]) * share
        altitude = min(11000.0, seconds * CLIMB_MS)
        return self._vector(flight, lat, lon, altitude, False, CLIMB_SPEED_MS, rate, at, near)

    def _vector(
        self,
        flight: dict[str, Any],
        lat: float,
        lon: float,
        altitude: float,
        on_ground: bool,
        velocity: float,
        rate: float,
        at: int,
        home: int,
    ) -> list[Any]:
        """The 18 fields of an OpenSky state vector, in OpenSky's order."""
        return [
            flight["icao24"],
            flight["callsign"],
            _country(self.country[home]),
            at,
            at,
            round(lon, 4),
            round(lat, 4),
            None if on_ground else round(altitude, 1),
            on_ground,
            velocity,
            0.0,
            rate,
            None,
            None if on_ground else round(altitude + 30, 1),
            None,
            False,
            0,
            0,
        ]


def _positions(words: bytes, value: int) -> list[int]:
    """The indexes of ``value`` among the 16-bit words."""
    pattern = value.to_bytes(2, sys.byteorder)
    found, start = [], 0
    while (at := words.find(pattern, start)) >= 0:
        if at % 2:
            start = at + 1
            continue
        found.append(at // 2)
        start = at + 2
    return found


def _word(words: bytes, n: int) -> int:
    return int.from_bytes(words[2 * n : 2 * n + 2], sys.byteorder)


def _country(code: str) -> str:
    return code or "Unknown"


@cache
def world() -> World:
    """The world of every airport airportsdata knows (built once per process)."""
    import airportsdata

    return World(airportsdata.load("ICAO"))


def mock_flights(airport: str, direction: str, begin: int, end: int) -> list[dict[str, Any]]:
    """What OpenSky's /flights/{direction} would answer for ``airport`` in [begin, end], simulated."""
    return world().flights(airport, direction, begin, end)


def mock_states(lamin: float, lomin: float, lamax: float, lomax: float, at: int) -> dict[str, Any]:
    """What OpenSky's /states/all would answer for the box at ``at`` (10-second grid), simulated."""
    at -= at % 10
    return {"time": at, "states": world().states(lamin, lomin, lamax, lomax, at)}
