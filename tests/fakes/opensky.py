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
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

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


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; header names are lower-cased, ``form`` is the parsed body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float
    form: dict[str, str] = field(default_factory=dict)


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenSky

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (timeouts, dropped connections); report the rest."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeOpenSky/1.0"
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``FakeOpenSky.requests`` instead."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        cast(_Server, self.server).fake._handle(self)

    def do_POST(self) -> None:
        """Dispatch a POST."""
        cast(_Server, self.server).fake._handle(self)

    def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Write a complete answer with Content-Length."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        """Write a JSON answer."""
        self.send(status, json.dumps(obj).encode(), "application/json", headers)


class FakeOpenSky:
    """An in-process OpenSky server (token endpoint + flights API) for tests."""

    def __init__(
        self,
        client_id: str = "test-client",
        client_secret: str = "test-secret",  # noqa: S107
        token_ttl: int = 1800,
        require_auth: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.require_auth = require_auth
        self.host = host
        self._port = port
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._flights: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._tokens: dict[str, float] = {}
        self._credits = INITIAL_CREDITS
        self.token_requests = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; after ``stop()`` it rebinds the same port."""
        if self._server is not None:
            raise RuntimeError("FakeOpenSky is already running")
        self._stopping.clear()
        server = _Server((self.host, self._port), _Handler)
        server.fake = self
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; delayed answers are cut short."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (0 before the first ``start()`` when OS-chosen)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_url(self) -> str:
        """Value for ``OPENSKY_API_URL``."""
        return f"{self.base_url}/api"

    @property
    def token_url(self) -> str:
        """Value for ``OPENSKY_TOKEN_URL``."""
        return f"{self.base_url}{TOKEN_PATH}"

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
    def requests(self) -> list[RecordedRequest]:
        """Every request received (a copy), oldest first."""
        with self._cond:
            return list(self._requests)

    def flight_requests(self) -> list[RecordedRequest]:
        """Only the flights API requests."""
        return [r for r in self.requests if r.path in FLIGHTS_PATHS]

    def wait_for_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` requests (of any kind) were received."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= n, timeout=timeout)

    def wait_for_flight_requests(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` flights API requests were received."""

        def enough() -> bool:
            return sum(r.path in FLIGHTS_PATHS for r in self._requests) >= n

        with self._cond:
            return self._cond.wait_for(enough, timeout=timeout)

    # -- request handling ------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path).rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in h.headers.items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        form: dict[str, str] = {}
        if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        record = RecordedRequest(h.command, path, query, headers, time.time(), form)
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()

        if path == TOKEN_PATH:
            if h.command != "POST":
                h.send_json(405, {"error": "HTTP 405 Method Not Allowed"})
                return
            self._token(h, headers, form)
        elif path in FLIGHTS_PATHS:
            if h.command != "GET":
                h.send(405, b"Method Not Allowed", "text/plain")
                return
            self._flights_call(h, FLIGHTS_PATHS[path], query, headers)
        else:
            h.send(404, b"Not Found", "text/plain")

    def _token(self, h: _Handler, headers: dict[str, str], form: dict[str, str]) -> None:
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
            h.send_json(400, error)
        elif client_id != self.client_id or client_secret != self.client_secret:
            error = {
                "error": "unauthorized_client",
                "error_description": "Invalid client or Invalid client credentials",
            }
            h.send_json(401, error)
        elif grant_type != "client_credentials":
            error = {
                "error": "unsupported_grant_type",
                "error_description": "Unsupported grant_type",
            }
            h.send_json(400, error)
        else:
            token = secrets.token_urlsafe(32)
            with self._cond:
                self._tokens[token] = time.time() + self.token_ttl
            h.send_json(
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

    def _flights_call(self, h: _Handler, kind: str, query: dict[str, str], headers: dict[str, str]) -> None:
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
                self._fault_answer(h, fault)
                return

        auth = headers.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not self._token_valid(token.strip()):
                h.send(401, headers={"WWW-Authenticate": "Bearer"})
                return
        elif self.require_auth:
            h.send(401, headers={"WWW-Authenticate": "Bearer"})
            return

        airport = query.get("airport", "").strip()
        begin, end = _as_int(query.get("begin")), _as_int(query.get("end"))
        if not airport or begin is None or end is None:
            h.send(400, b"Bad Request: airport, begin and end are required", "text/plain")
            return
        if end <= begin:
            h.send(400, b"Bad Request: end must be after begin", "text/plain")
            return
        if end - begin > MAX_INTERVAL_SECONDS:
            h.send(400, b"Bad Request: the time interval must not exceed 2 days", "text/plain")
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
            h.send(404, headers=rate)
        else:
            h.send_json(200, found, rate)

    def _fault_answer(self, h: _Handler, fault: Fault) -> None:
        status = cast(int, fault.status)
        if status == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            h.send(429, headers={"X-Rate-Limit-Retry-After-Seconds": str(retry)})
            return
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        h.send(status, f"{status} {reason}".encode(), "text/plain")

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

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with fake:
        print(json.dumps({"api_url": fake.api_url, "token_url": fake.token_url}), flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
