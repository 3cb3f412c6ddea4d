"""A fake OpenSky Network: the OAuth2 token endpoint and the flights API, on 127.0.0.1.

It speaks the real wire format (see docs/notes on OpenSky 2026): client-credentials tokens,
``/api/flights/arrival`` and ``/api/flights/departure`` limited to 2 days per call, 404 with
an empty body when there are no flights, ``X-Rate-Limit-*`` headers, plus scripted faults.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote

from tests.fakes.http import Exchange, HttpFake, Request, serve_until_signalled

TOKEN_PATH = "/auth/realms/opensky-network/protocol/openid-connect/token"
FLIGHTS_PATHS = {"/api/flights/arrival": "arrival", "/api/flights/departure": "departure"}
MAX_INTERVAL_SECONDS = 2 * 86400
INITIAL_CREDITS = 4000

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


class FakeOpenSky(HttpFake):
    """An in-process OpenSky server (token endpoint + flights API) for tests."""

    server_version = "FakeOpenSky/1.0"

    def __init__(
        self,
        client_id: str = "test-client",
        client_secret: str = "test-secret",  # noqa: S107
        token_ttl: int = 1800,
        require_auth: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.require_auth = require_auth
        self._flights: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._tokens: dict[str, float] = {}
        self._credits = INITIAL_CREDITS
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

    def queue_faults(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next flights API calls."""
        with self._cond:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        """How many queued faults have not been used yet."""
        with self._cond:
            return len(self._faults)

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

    @property
    def rate_limit_remaining(self) -> int:
        """The credits reported in ``X-Rate-Limit-Remaining``."""
        with self._cond:
            return self._credits

    @rate_limit_remaining.setter
    def rate_limit_remaining(self, value: int) -> None:
        with self._cond:
            self._credits = value

    # -- recording -------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request received (a copy), oldest first; ``form`` is the parsed body."""
        return self.received

    def flight_requests(self) -> list[Request]:
        """Only the flights API requests."""
        return [r for r in self.requests if r.path in FLIGHTS_PATHS]

    def wait_for_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` requests (of any kind) were received."""
        return self.wait_for_received(n, timeout)

    def wait_for_flight_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` flights API requests were received."""
        return self.wait_for_received(n, timeout, lambda r: r.path in FLIGHTS_PATHS)

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

    def _flights_call(self, exchange: Exchange, kind: str, query: dict[str, str], headers: dict[str, str]) -> None:
        with self._cond:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            if fault.gate is not None:
                deadline = time.monotonic() + 60
                while not fault.gate.is_set() and not self._stopping.is_set() and time.monotonic() < deadline:
                    fault.gate.wait(0.05)
            if fault.delay > 0:
                self._stopping.wait(fault.delay)
            if fault.status is not None:
                self._fault_answer(exchange, fault)
                return

        auth = headers.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not self._token_valid(token.strip()):
                exchange.send(401, headers={"WWW-Authenticate": "Bearer"})
                return
        elif self.require_auth:
            exchange.send(401, headers={"WWW-Authenticate": "Bearer"})
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
        with self._cond:
            found = [
                dict(f)
                for f in self._flights
                if str(f.get(airport_key) or "").upper() == wanted and begin <= int(f.get(time_key) or 0) <= end
            ]
            self._credits = max(0, self._credits - 1)
            rate = {"X-Rate-Limit-Remaining": str(self._credits)}
        if not found:
            exchange.send(404, headers=rate)
        else:
            exchange.send_json(200, found, rate)

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
    args = parser.parse_args(argv)

    fake = FakeOpenSky(
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        require_auth=args.require_auth,
        host=args.host,
        port=args.port,
    )
    if args.flights:
        with open(args.flights, encoding="utf-8") as fh:
            fake.add_flights(json.load(fh))

    def ready() -> None:
        print(json.dumps({"api_url": fake.api_url, "token_url": fake.token_url}), flush=True)

    return serve_until_signalled(fake, ready)


if __name__ == "__main__":
    sys.exit(main())
