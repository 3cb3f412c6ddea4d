"""A fake OpenSky Network: the OAuth2 token endpoint, the flights API and the live state
vectors, on 127.0.0.1.

It speaks the real wire format (OpenSky's REST API documentation, 2026): client-credentials
tokens; ``/api/flights/arrival`` and ``/api/flights/departure`` limited to 2 days per call, 404
with an empty body when there are no flights; ``/api/states/all`` with an optional bounding box
(``lamin``, ``lomin``, ``lamax``, ``lomax``), ``time`` and repeated ``icao24``, answering
``{"time": T, "states": [[18 fields], ...] or null}``; plus scripted faults.

Credits, as OpenSky counts them: every endpoint family (``flights``, ``states``) has its own
daily bucket, per caller kind (``credits_per_day`` for authenticated callers,
``anonymous_credits_per_day`` for anonymous ones), refilled at 00:00 UTC on the fake's clock.
Each answered call (200 or 404) costs what OpenSky charges for it (:func:`flights_cost`,
:func:`states_cost`) and reports what is left in ``X-Rate-Limit-Remaining``; a call that costs
more than is left is answered 429 with ``X-Rate-Limit-Retry-After-Seconds`` (until the refill)
and costs nothing.

The nightly batch (``nightly_batch``, on by default): OpenSky computes the flight lists once a
day, so a flight is served by ``/flights/*`` only when the time that list filters on
(``lastSeen`` for arrivals, ``firstSeen`` for departures) is before today, 00:00 UTC, on the
fake's clock: today's flights are absent.

Run standalone: ``python -m tests.fakes.opensky --port 0 --flights FILE.json``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.http import Exchange, HttpFake, Request, serve_until_signalled

TOKEN_PATH = "/auth/realms/opensky-network/protocol/openid-connect/token"
FLIGHTS_PATHS = {"/api/flights/arrival": "arrival", "/api/flights/departure": "departure"}
STATES_PATH = "/api/states/all"
MAX_INTERVAL_SECONDS = 2 * 86400
DAY = 86400
INITIAL_CREDITS = 4000
"""A standard account's daily credits per endpoint family."""
ANONYMOUS_CREDITS = 400
"""An anonymous caller's daily credits per endpoint family."""
STATES_HISTORY_SECONDS = 3600
"""How far back an authenticated caller may ask for state vectors (older: 400)."""

STATE_FIELDS = (
    "icao24",
    "callsign",
    "origin_country",
    "time_position",
    "last_contact",
    "longitude",
    "latitude",
    "baro_altitude",
    "on_ground",
    "velocity",
    "true_track",
    "vertical_rate",
    "sensors",
    "geo_altitude",
    "squawk",
    "spi",
    "position_source",
    "category",
)

FLIGHT_FIELDS = (
    "icao24",
    "firstSeen",
    "estDepartureAirport",
    "lastSeen",
    "estArrivalAirport",
    "callsign",
    "estDepartureAirportHorizDistance",
    "estDepartureAirportVertDistance",
    "estArrivalAirportHorizDistance",
    "estArrivalAirportVertDistance",
    "departureAirportCandidatesCount",
    "arrivalAirportCandidatesCount",
)


@dataclass(frozen=True)
class Fault:
    """A scripted answer for one flights API call.

    ``status`` set: answer that status (429 adds ``X-Rate-Limit-Retry-After-Seconds``).
    ``delay`` > 0: wait that long first (interrupted by ``stop()``), then answer
    ``status`` or, when it is None, normally.
    ``gate`` set: hold the answer until the test sets the event (or ``stop()``; at most 60 s),
    then go on as above, so a test decides exactly when the call completes.
    """

    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    gate: threading.Event | None = None


def make_flight(
    icao24: str,
    first_seen: int,
    last_seen: int,
    departure: str | None = None,
    arrival: str | None = None,
    callsign: str | None = None,
) -> dict[str, Any]:
    """Build an OpenSky flight object; the callsign is space-padded to 8 chars like OpenSky's."""
    return {
        "icao24": icao24.lower(),
        "firstSeen": int(first_seen),
        "estDepartureAirport": departure,
        "lastSeen": int(last_seen),
        "estArrivalAirport": arrival,
        "callsign": callsign.ljust(8) if callsign is not None else None,
        "estDepartureAirportHorizDistance": 1423 if departure else None,
        "estDepartureAirportVertDistance": 38 if departure else None,
        "estArrivalAirportHorizDistance": 2187 if arrival else None,
        "estArrivalAirportVertDistance": 54 if arrival else None,
        "departureAirportCandidatesCount": 1 if departure else 0,
        "arrivalAirportCandidatesCount": 1 if arrival else 0,
    }


def make_state(
    icao24: str,
    latitude: float | None,
    longitude: float | None,
    *,
    altitude: float | None = None,
    on_ground: bool = False,
    callsign: str | None = None,
    country: str = "Italy",
    at: int | None = None,
) -> list[Any]:
    """An OpenSky state vector: the 18 fields of :data:`STATE_FIELDS`, in that order."""
    seen = int(at if at is not None else time.time())
    return [
        icao24.lower(),
        callsign.ljust(8) if callsign is not None else None,
        country,
        seen,
        seen,
        longitude,
        latitude,
        None if on_ground else altitude,
        on_ground,
        0.0 if on_ground else 120.0,
        90.0,
        0.0,
        None,
        None if on_ground or altitude is None else altitude + 30.0,
        "1000",
        False,
        0,
        0,
    ]


def day_partitions(begin: int, end: int) -> int:
    """How many UTC days [begin, end] touches."""
    return end // DAY - begin // DAY + 1


def flights_cost(begin: int, end: int, now: float) -> int:
    """OpenSky's charge for one /flights/* call: 4 credits for a live window (shorter than a day,
    within the last 24 hours), else by the day partitions it touches: 30 for one or two, 60 a
    day for three to ten, 480 a day for up to 25, 960 a day beyond."""
    partitions = day_partitions(begin, end)
    if end - begin < DAY and begin >= now - DAY:
        return 4
    if partitions <= 2:
        return 30
    if partitions <= 10:
        return 60 * partitions
    return (480 if partitions <= 25 else 960) * partitions


def states_cost(box: tuple[float, float, float, float] | None) -> int:
    """OpenSky's charge for one /states/all call by the box's area in square degrees: 1 up to
    25, 2 up to 100, 3 up to 400, 4 beyond or without a box."""
    if box is None:
        return 4
    lamin, lomin, lamax, lomax = box
    area = (lamax - lamin) * (lomax - lomin)
    return 1 if area <= 25 else 2 if area <= 100 else 3 if area <= 400 else 4


class FakeOpenSky(HttpFake):
    """An in-process OpenSky server (token endpoint, flights API, state vectors) for tests."""

    server_version = "FakeOpenSky/1.0"

    def __init__(
        self,
        client_id: str = "test-client",
        client_secret: str = "test-secret",  # noqa: S107
        token_ttl: int = 1800,
        require_auth: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        credits_per_day: int = INITIAL_CREDITS,
        anonymous_credits_per_day: int = ANONYMOUS_CREDITS,
        nightly_batch: bool = True,
    ) -> None:
        super().__init__(host, port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.require_auth = require_auth
        self.clock = clock
        self.credits_per_day = credits_per_day
        self.anonymous_credits_per_day = anonymous_credits_per_day
        self.nightly_batch = nightly_batch
        self._flights: list[dict[str, Any]] = []
        self._states: list[list[Any]] = []
        self._faults: list[Fault] = []
        self._state_faults: list[Fault] = []
        self._tokens: dict[str, float] = {}
        self._buckets: dict[tuple[bool, str], tuple[int, int]] = {}  # (anonymous, family) -> (day, left)
        self.too_many = 0
        self.token_requests = 0

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return self.url

    @property
    def api_url(self) -> str:
        """Value for ``OPENSKY_API_URL``."""
        return f"{self.url}/api"

    @property
    def token_url(self) -> str:
        """Value for ``OPENSKY_TOKEN_URL``."""
        return f"{self.url}{TOKEN_PATH}"

    # -- scripting -------------------------------------------------------------------------

    def add_flights(self, flights: Iterable[Mapping[str, Any]]) -> None:
        """Store OpenSky flight objects (copied)."""
        with self._cond:
            self._flights.extend(dict(f) for f in flights)

    def clear_flights(self) -> None:
        """Forget every stored flight."""
        with self._cond:
            self._flights.clear()

    @property
    def flights(self) -> list[dict[str, Any]]:
        """A copy of the stored flights."""
        with self._cond:
            return [dict(f) for f in self._flights]

    def set_states(self, states: Iterable[Sequence[Any]]) -> None:
        """Replace the live state vectors (lists of the 18 fields, e.g. from :func:`make_state`)."""
        with self._cond:
            self._states = [list(s) for s in states]

    @property
    def states(self) -> list[list[Any]]:
        """A copy of the live state vectors."""
        with self._cond:
            return [list(s) for s in self._states]

    def queue_faults(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next flights API calls."""
        with self._cond:
            self._faults.extend(faults)

    def queue_state_faults(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next /states/all calls."""
        with self._cond:
            self._state_faults.extend(faults)

    def clear_faults(self) -> None:
        """Forget the queued faults that were not used (a test's leftovers)."""
        with self._cond:
            self._faults.clear()
            self._state_faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many queued faults (flights and states) have not been used yet."""
        with self._cond:
            return len(self._faults) + len(self._state_faults)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the next call with one gets 401)."""
        with self._cond:
            self._tokens.clear()

    @property
    def tokens(self) -> list[str]:
        """The issued tokens that are still valid."""
        now = time.time()
        with self._cond:
            return [t for t, exp in self._tokens.items() if exp > now]

    # -- credits ---------------------------------------------------------------------------

    def _today(self) -> int:
        return int(self.clock()) // DAY

    def _left(self, anonymous: bool, family: str) -> int:
        """Credits left today in a bucket (held: ``self._cond``)."""
        day, left = self._buckets.get((anonymous, family), (-1, 0))
        if day != self._today():
            left = self.anonymous_credits_per_day if anonymous else self.credits_per_day
            self._buckets[(anonymous, family)] = (self._today(), left)
        return left

    def credits(self, family: str = "flights", *, anonymous: bool = False) -> int:
        """Credits left today in one family's bucket."""
        with self._cond:
            return self._left(anonymous, family)

    def set_credits(self, value: int, family: str = "flights", *, anonymous: bool | None = None) -> None:
        """Set what is left today in one family's bucket (both caller kinds when ``anonymous``
        is None), as if other clients of the same account had spent the rest."""
        with self._cond:
            for kind in (True, False) if anonymous is None else (anonymous,):
                self._buckets[(kind, family)] = (self._today(), value)

    @property
    def rate_limit_remaining(self) -> int:
        """The credits an authenticated caller has left today for /flights/*."""
        return self.credits("flights")

    @rate_limit_remaining.setter
    def rate_limit_remaining(self, value: int) -> None:
        self.set_credits(value, "flights")

    def _charge(self, exchange: Exchange, anonymous: bool, family: str, cost: int) -> dict[str, str] | None:
        """Take ``cost`` from the bucket and return the rate header; or answer 429 (None)."""
        with self._cond:
            left = self._left(anonymous, family)
            if cost > left:
                self.too_many += 1
                retry = DAY - int(self.clock()) % DAY
                exchange.send(429, headers={"X-Rate-Limit-Retry-After-Seconds": str(retry)})
                return None
            self._buckets[(anonymous, family)] = (self._today(), left - cost)
            return {"X-Rate-Limit-Remaining": str(left - cost)}

    # -- recording -------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request received (a copy), oldest first; ``form`` is the parsed body."""
        return self.received

    def flight_requests(self) -> list[Request]:
        """Only the flights API requests."""
        return [r for r in self.requests if r.path in FLIGHTS_PATHS]

    def state_requests(self) -> list[Request]:
        """Only the /states/all requests."""
        return [r for r in self.requests if r.path == STATES_PATH]

    def wait_for_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` requests (of any kind) were received."""
        return self.wait_for_received(n, timeout)

    def wait_for_flight_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` flights API requests were received."""
        return self.wait_for_received(n, timeout, lambda r: r.path in FLIGHTS_PATHS)

    def wait_for_state_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` /states/all requests were received."""
        return self.wait_for_received(n, timeout, lambda r: r.path == STATES_PATH)

    # -- request handling ------------------------------------------------------------------

    def handle(self, exchange: Exchange) -> None:
        """Route to the token endpoint or the flights API."""
        request = exchange.request
        if request.path == TOKEN_PATH:
            if request.method != "POST":
                exchange.send_json(405, {"error": "HTTP 405 Method Not Allowed"})
                return
            self._token(exchange, request.headers, request.form)
        elif request.path in FLIGHTS_PATHS:
            if request.method != "GET":
                exchange.send(405, b"Method Not Allowed", "text/plain")
                return
            self._flights_call(exchange, FLIGHTS_PATHS[request.path], request.query, request.headers)
        elif request.path == STATES_PATH:
            if request.method != "GET":
                exchange.send(405, b"Method Not Allowed", "text/plain")
                return
            self._states_call(exchange)
        else:
            exchange.send(404, b"Not Found", "text/plain")

    def _token(self, exchange: Exchange, headers: dict[str, str], form: dict[str, str]) -> None:
        with self._cond:
            self.token_requests += 1
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):  # client_secret_basic is accepted by Keycloak too
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
                client_id, _, client_secret = (unquote(p) for p in decoded.partition(":"))
            except ValueError:
                client_id = client_secret = None
        grant_type = form.get("grant_type")
        if not grant_type:
            error = {
                "error": "invalid_request",
                "error_description": "Missing form parameter: grant_type",
            }
            exchange.send_json(400, error)
        elif client_id != self.client_id or client_secret != self.client_secret:
            error = {
                "error": "unauthorized_client",
                "error_description": "Invalid client or Invalid client credentials",
            }
            exchange.send_json(401, error)
        elif grant_type != "client_credentials":
            error = {
                "error": "unsupported_grant_type",
                "error_description": "Unsupported grant_type",
            }
            exchange.send_json(400, error)
        else:
            token = secrets.token_urlsafe(32)
            with self._cond:
                self._tokens[token] = time.time() + self.token_ttl
            exchange.send_json(
                200,
                {
                    "access_token": token,
                    "expires_in": self.token_ttl,
                    "refresh_expires_in": 0,
                    "token_type": "Bearer",
                    "not-before-policy": 0,
                    "scope": "profile email",
                },
                {"Cache-Control": "no-store", "Pragma": "no-cache"},
            )

    def _apply_fault(self, exchange: Exchange, queue: list[Fault]) -> bool:
        """Run the next queued fault of ``queue``; True when it answered the call."""
        with self._cond:
            fault = queue.pop(0) if queue else None
        if fault is None:
            return False
        if fault.gate is not None:
            deadline = time.monotonic() + 60
            while not fault.gate.is_set() and not self._stopping.is_set() and time.monotonic() < deadline:
                fault.gate.wait(0.05)
        if fault.delay > 0:
            self._stopping.wait(fault.delay)
        if fault.status is not None:
            self._fault_answer(exchange, fault)
            return True
        return False

    def _caller(self, exchange: Exchange, headers: dict[str, str]) -> bool | None:
        """True for an anonymous caller, False for an authenticated one; None when refused (401)."""
        auth = headers.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not self._token_valid(token.strip()):
                exchange.send(401, headers={"WWW-Authenticate": "Bearer"})
                return None
            return False
        if self.require_auth:
            exchange.send(401, headers={"WWW-Authenticate": "Bearer"})
            return None
        return True

    def _flights_call(self, exchange: Exchange, kind: str, query: dict[str, str], headers: dict[str, str]) -> None:
        if self._apply_fault(exchange, self._faults):
            return
        anonymous = self._caller(exchange, headers)
        if anonymous is None:
            return

        airport = query.get("airport", "").strip()
        begin, end = _as_int(query.get("begin")), _as_int(query.get("end"))
        if not airport or begin is None or end is None:
            exchange.send(400, b"Bad Request: airport, begin and end are required", "text/plain")
            return
        if end <= begin:
            exchange.send(400, b"Bad Request: end must be after begin", "text/plain")
            return
        if end - begin > MAX_INTERVAL_SECONDS:
            exchange.send(400, b"Bad Request: the time interval must not exceed 2 days", "text/plain")
            return

        wanted = airport.upper()
        if kind == "arrival":
            airport_key, time_key = "estArrivalAirport", "lastSeen"
        else:
            airport_key, time_key = "estDepartureAirport", "firstSeen"
        now = self.clock()
        rate = self._charge(exchange, anonymous, "flights", flights_cost(begin, end, now))
        if rate is None:
            return
        batch_done = self._today() * DAY if self.nightly_batch else None
        with self._cond:
            found = [
                dict(f)
                for f in self._flights
                if str(f.get(airport_key) or "").upper() == wanted
                and begin <= int(f.get(time_key) or 0) <= end
                and (batch_done is None or int(f.get(time_key) or 0) < batch_done)
            ]
        if not found:
            exchange.send(404, headers=rate)
        else:
            exchange.send_json(200, found, rate)

    def _states_call(self, exchange: Exchange) -> None:
        request = exchange.request
        if self._apply_fault(exchange, self._state_faults):
            return
        anonymous = self._caller(exchange, request.headers)
        if anonymous is None:
            return
        pairs = parse_qsl(urlsplit(request.target).query, keep_blank_values=True)
        query = dict(pairs)
        wanted = {v.strip().lower() for k, v in pairs if k == "icao24" and v.strip()}
        names = ("lamin", "lomin", "lamax", "lomax")
        given = [query.get(n) for n in names]
        box: tuple[float, float, float, float] | None = None
        if any(v is not None for v in given):
            try:
                lamin, lomin, lamax, lomax = (float(cast(str, v)) for v in given)
            except (TypeError, ValueError):
                exchange.send(400, b"Bad Request: lamin, lomin, lamax and lomax go together", "text/plain")
                return
            box = (lamin, lomin, lamax, lomax)
        now = int(self.clock())
        at = now
        if "time" in query and not anonymous:  # anonymous callers get the current time only
            asked = _as_int(query["time"])
            if asked is None or asked < now - STATES_HISTORY_SECONDS:
                exchange.send(400, b"Bad Request: time must be within the last hour", "text/plain")
                return
            at = min(asked, now)
        at -= at % (10 if anonymous else 5)
        rate = self._charge(exchange, anonymous, "states", states_cost(box))
        if rate is None:
            return
        with self._cond:
            found = [
                list(s)
                for s in self._states
                if (not wanted or str(s[0]).lower() in wanted) and (box is None or _inside(s, box))
            ]
        exchange.send_json(200, {"time": at, "states": found or None}, rate)

    def _fault_answer(self, exchange: Exchange, fault: Fault) -> None:
        status = cast(int, fault.status)
        if status == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            exchange.send(429, headers={"X-Rate-Limit-Retry-After-Seconds": str(retry)})
            return
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        exchange.send(status, f"{status} {reason}".encode(), "text/plain")

    def _token_valid(self, token: str) -> bool:
        with self._cond:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > time.time()


def _inside(state: Sequence[Any], box: tuple[float, float, float, float]) -> bool:
    lamin, lomin, lamax, lomax = box
    longitude, latitude = state[5], state[6]
    if longitude is None or latitude is None:
        return False
    return bool(lamin <= latitude <= lamax and lomin <= longitude <= lomax)


def _as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; print the URLs as one JSON line first."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.opensky", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--flights", help="JSON file with a list of OpenSky flight objects")
    parser.add_argument("--client-id", default="test-client")
    parser.add_argument("--client-secret", default="test-secret")
    parser.add_argument("--token-ttl", type=int, default=1800)
    parser.add_argument("--require-auth", action="store_true")
    parser.add_argument("--no-nightly-batch", action="store_true", help="serve today's flights too")
    args = parser.parse_args(argv)

    fake = FakeOpenSky(
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        require_auth=args.require_auth,
        host=args.host,
        port=args.port,
        nightly_batch=not args.no_nightly_batch,
    )
    if args.flights:
        with open(args.flights, encoding="utf-8") as fh:
            fake.add_flights(json.load(fh))

    def ready() -> None:
        print(json.dumps({"api_url": fake.api_url, "token_url": fake.token_url}), flush=True)

    return serve_until_signalled(fake, ready)


if __name__ == "__main__":
    sys.exit(main())
