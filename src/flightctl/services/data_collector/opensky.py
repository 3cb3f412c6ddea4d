"""Client of the real OpenSky Network REST API (2026): OAuth2 client credentials, the
arrival/departure endpoints and the live state vectors (``/states/all``), 404 as "no flights",
429 with its retry header (per endpoint family: each has its own credits), a timeout on every
call and a circuit breaker that counts only real failures.

The breaker is pybreaker's state machine, driven so that (a) the HTTP call itself runs outside
pybreaker's lock (``CircuitBreaker.call`` holds it for the whole call, which would serialise the
collector's pool) and (b) its reset timeout follows an injected clock, so tests need no waiting."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pybreaker

from flightctl.services.common.clock import utcnow

log = logging.getLogger(__name__)
MAX_WINDOW_SECONDS = 2 * 86400  # OpenSky answers at most two days per call
FLIGHTS_FAMILY, STATES_FAMILY = "flights", "states"
TOKEN_REFRESH_MARGIN = 60.0
DEFAULT_RETRY_AFTER = 60.0
T = TypeVar("T")


class OpenSkyError(Exception):
    """OpenSky did not give an answer we can use."""


class RateLimited(OpenSkyError):
    """429: no call before ``retry_at`` (clock seconds). OpenSky protecting its quota is not
    OpenSky failing: it never counts against the breaker."""

    def __init__(self, retry_at: float, message: str, seconds: float = 0.0, *, answered: bool = True) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.seconds = seconds
        """How long to wait from when it was raised."""
        self.answered = answered
        """OpenSky answered this call with a 429 (news about the credits); False when the client
        refused the call itself because an earlier 429's retry time has not passed yet."""


class Rejected(OpenSkyError):
    """OpenSky answered but refused the request (a 4xx other than 404 and 429): our request or
    our credentials are wrong, OpenSky is up. Not counted by the breaker."""


class CircuitOpen(OpenSkyError):
    """The breaker is open: OpenSky failed repeatedly and is not called until the reset time."""


@dataclass(frozen=True)
class Answer:
    """One answered call: its JSON body and the credits OpenSky says are left in that call's
    family (``X-Rate-Limit-Remaining``; None when it did not say)."""

    body: Any
    remaining: int | None


@dataclass
class _Token:
    value: str
    refresh_at: float


class _ClockStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker compares ``opened_at`` with the wall clock; this storage records the opening on
    the injected clock and reports it as the wall-clock instant that is as long ago as the
    injected clock says, so pybreaker's own reset check follows the injected clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._clock = clock
        self._opened_clock: float | None = None

    @property
    def opened_at(self) -> datetime | None:
        if self._opened_clock is None:
            return None
        return utcnow() - timedelta(seconds=self._clock() - self._opened_clock)

    @opened_at.setter
    def opened_at(self, _value: datetime) -> None:
        self._opened_clock = self._clock()

    def seconds_open(self) -> float:
        return 0.0 if self._opened_clock is None else self._clock() - self._opened_clock


class Circuit:
    """CIRCUIT_FAIL_MAX consecutive real failures open the circuit for CIRCUIT_RESET_SECONDS;
    after that, calls go through again as trials (half-open): a success closes the circuit, a
    failure opens it for another CIRCUIT_RESET_SECONDS. Excluded outcomes (429, other 4xx) are
    neither successes nor failures. The guarded call runs outside pybreaker's lock."""

    def __init__(
        self,
        fail_max: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        not_failures: tuple[type[BaseException], ...] = (RateLimited, Rejected),
    ) -> None:
        self._storage = _ClockStorage(clock)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_seconds,
            exclude=list(not_failures),
            state_storage=self._storage,
            name="opensky",
        )
        self.reset_seconds = reset_seconds
        self._not_failures = not_failures

    @property
    def state(self) -> str:
        """closed, open or half-open (``open`` until the first call after the reset time)."""
        return str(self.breaker.current_state)

    def call(self, func: Callable[[], T]) -> T:
        if self.state == pybreaker.STATE_OPEN and self._storage.seconds_open() < self.reset_seconds:
            raise CircuitOpen("circuit open: OpenSky failed repeatedly")
        try:
            result = func()
        except self._not_failures:
            raise  # neither a success nor a failure: the breaker does not hear of it
        except Exception as exc:
            try:
                self.breaker.call(_raise, exc)  # counts it; re-raises it, or trips the breaker
            except pybreaker.CircuitBreakerError:
                log.warning("the OpenSky circuit is open for %.0fs after: %s", self.reset_seconds, exc)
                raise exc from None
            raise
        try:
            return self.breaker.call(lambda: result)
        except pybreaker.CircuitBreakerError:  # opened meanwhile by another thread's failure
            return result


def _raise(exc: BaseException) -> None:
    raise exc


class OpenSkyClient:
    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str | None,
        client_secret: str | None,
        circuit: Circuit,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
        on_remaining: Callable[[int], None] = lambda _n: None,
        on_call: Callable[[str], None] = lambda _outcome: None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self._credentials = (client_id, client_secret) if client_id and client_secret else None
        self.circuit = circuit
        self._clock = clock
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout))
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}
        self._blocked_lock = threading.Lock()
        self._on_remaining = on_remaining
        self._on_call = on_call

    @property
    def authenticated(self) -> bool:
        return self._credentials is not None

    def close(self) -> None:
        self._http.close()

    # -- token -------------------------------------------------------------------------------
    def _bearer(self, stale: str | None = None) -> str | None:
        """The cached token, fetched when missing, due for refresh, or equal to ``stale`` (the
        one OpenSky just refused; another thread may already have replaced it)."""
        if self._credentials is None:
            return None
        with self._token_lock:
            now = self._clock()
            token = self._token
            if token is None or now >= token.refresh_at or (stale is not None and token.value == stale):
                token = self._token = self._fetch_token(now)
            return token.value

    def _fetch_token(self, now: float) -> _Token:
        assert self._credentials is not None
        client_id, secret = self._credentials
        try:
            response = self._http.post(
                self.token_url,
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            )
        except httpx.TimeoutException:
            self._on_call("token_timeout")
            raise OpenSkyError("the OpenSky token endpoint timed out") from None
        except httpx.HTTPError as exc:
            self._on_call("token_error")
            raise OpenSkyError(f"the OpenSky token endpoint is unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            self._on_call("token_error")
            message = f"the OpenSky token endpoint answered {response.status_code}"
            raise (Rejected(message) if 400 <= response.status_code < 500 else OpenSkyError(message))
        try:
            body = response.json()
            lifetime = float(body.get("expires_in", 1800))
            value = str(body["access_token"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self._on_call("token_error")
            raise OpenSkyError("the OpenSky token endpoint answered without an access_token") from None
        log.info("fetched an OpenSky access token valid for %.0fs", lifetime)
        # refresh a minute early (half the lifetime for short-lived tokens)
        return _Token(value, now + lifetime - min(TOKEN_REFRESH_MARGIN, lifetime / 2))

    # -- flights -----------------------------------------------------------------------------
    def arrivals(self, airport: str, begin: int, end: int) -> list[dict[str, Any]]:
        return self._flights("arrival", airport, begin, end)

    def departures(self, airport: str, begin: int, end: int) -> list[dict[str, Any]]:
        return self._flights("departure", airport, begin, end)

    def _flights(self, kind: str, airport: str, begin: int, end: int) -> list[dict[str, Any]]:
        """[begin, end] in calls of at most two days each."""
        flights: list[dict[str, Any]] = []
        start = begin
        while start < end:
            stop = min(end, start + MAX_WINDOW_SECONDS)
            flights.extend(self.flights(kind, airport, start, stop).body)
            start = stop
        return flights

    def flights(self, direction: str, airport: str, begin: int, end: int) -> Answer:
        """One /flights/arrival or /flights/departure call over [begin, end] (at most two days):
        the flights (none for a 404) and the credits left."""
        if direction not in ("arrival", "departure"):
            raise ValueError(f"direction must be arrival or departure, not {direction!r}")
        if end - begin > MAX_WINDOW_SECONDS:
            raise ValueError("OpenSky answers at most two days per call")
        params = {"airport": airport, "begin": begin, "end": end}
        return self._call(FLIGHTS_FAMILY, f"/flights/{direction}", params, list)

    def states(self, box: tuple[float, float, float, float] | None) -> Answer:
        """One /states/all call, the current state vectors inside ``box`` (lamin, lomin, lamax,
        lomax; None: the whole world): ``{"time": T, "states": [[18 fields], ...]}``."""
        params: dict[str, Any] = {}
        if box is not None:
            params = dict(zip(("lamin", "lomin", "lamax", "lomax"), (round(v, 4) for v in box), strict=True))
        answer = self._call(STATES_FAMILY, "/states/all", params, dict)
        body = answer.body if isinstance(answer.body, dict) else {}
        states = body.get("states")
        vectors = [s for s in states if isinstance(s, list) and len(s) >= 17] if isinstance(states, list) else []
        moment = body.get("time")
        return Answer({"time": moment if isinstance(moment, int) else None, "states": vectors}, answer.remaining)

    def _call(self, family: str, path: str, params: dict[str, Any], expect: type) -> Answer:
        now = self._clock()
        with self._blocked_lock:
            blocked_until = self._blocked_until.get(family, 0.0)
        if now < blocked_until:
            self._on_call("rate_limited")
            wait = blocked_until - now
            raise RateLimited(blocked_until, f"OpenSky rate limit: no call for {wait:.0f}s more", wait, answered=False)
        try:
            return self.circuit.call(lambda: self._request(family, path, params, expect))
        except CircuitOpen:
            self._on_call("circuit_open")
            raise

    def _request(self, family: str, path: str, params: dict[str, Any], expect: type) -> Answer:
        token = self._bearer()
        response = self._get(path, params, token)
        if response.status_code == 401 and token is not None:
            log.info("OpenSky refused the access token; fetching a new one and retrying once")
            self._on_call("unauthorized_retry")
            response = self._get(path, params, self._bearer(stale=token))
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        left = int(remaining) if remaining is not None and remaining.strip().isdigit() else None
        return Answer(self._answer(family, response, expect), left)

    def _get(self, path: str, params: dict[str, Any], token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.get(self.api_url + path, params=params, headers=headers)
        except httpx.TimeoutException:
            self._on_call("timeout")
            raise OpenSkyError("OpenSky timed out") from None
        except httpx.HTTPError as exc:
            self._on_call("network_error")
            raise OpenSkyError(f"OpenSky unreachable: {type(exc).__name__}") from None
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        if remaining is not None and remaining.strip().isdigit():
            self._on_remaining(int(remaining))
        return response

    def _answer(self, family: str, response: httpx.Response, expect: type) -> Any:
        status = response.status_code
        if status == 404:
            self._on_call("empty")
            return expect()
        if status == 429:
            wait = _seconds(response.headers.get("X-Rate-Limit-Retry-After-Seconds"))
            with self._blocked_lock:
                retry_at = max(self._blocked_until.get(family, 0.0), self._clock() + wait)
                self._blocked_until[family] = retry_at
            self._on_call("rate_limited")
            raise RateLimited(retry_at, f"OpenSky rate limit; retry after {wait:.0f}s", wait)
        if 400 <= status < 500:
            self._on_call(f"http_{status}")
            raise Rejected(f"OpenSky refused the request ({status})")
        if status != 200:
            self._on_call(f"http_{status}")
            raise OpenSkyError(f"OpenSky answered {status}")
        try:
            body = response.json()
        except ValueError:
            self._on_call("bad_body")
            raise OpenSkyError("OpenSky answered 200 without JSON") from None
        if not isinstance(body, expect):
            self._on_call("bad_body")
            raise OpenSkyError(f"OpenSky answered 200 with something other than a {expect.__name__}")
        self._on_call("ok")
        return [f for f in body if isinstance(f, dict)] if isinstance(body, list) else body


def _seconds(raw: str | None) -> float:
    try:
        value = float(raw) if raw is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return value if 0 <= value < 86400 * 2 else DEFAULT_RETRY_AFTER
