"""Client of the real OpenSky Network REST API (2026): OAuth2 client credentials, the
arrival/departure endpoints, 404 as "no flights", 429 with its retry header, a timeout on every
call and a circuit breaker that counts only real failures."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pybreaker

log = logging.getLogger(__name__)
MAX_WINDOW_SECONDS = 2 * 86400  # OpenSky answers at most two days per call
TOKEN_REFRESH_MARGIN = 60.0


class OpenSkyError(Exception):
    """OpenSky did not give an answer we can use (counts against the circuit breaker)."""


class RateLimited(OpenSkyError):
    """429: no call before ``retry_at`` (monotonic seconds). Not a failure of OpenSky."""

    def __init__(self, retry_at: float, message: str) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass
class _Token:
    value: str
    expires_at: float


class OpenSkyClient:
    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str | None,
        client_secret: str | None,
        breaker: pybreaker.CircuitBreaker,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
        on_remaining: Callable[[int], None] = lambda _n: None,
        on_call: Callable[[str], None] = lambda _outcome: None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self._credentials = (client_id, client_secret) if client_id and client_secret else None
        self._breaker = breaker
        self._clock = clock
        self._http = http or httpx.Client(timeout=timeout)
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self._blocked_until = 0.0
        self._on_remaining = on_remaining
        self._on_call = on_call

    @property
    def authenticated(self) -> bool:
        return self._credentials is not None

    def close(self) -> None:
        self._http.close()

    # -- token -------------------------------------------------------------------------------
    def _bearer(self, force_refresh: bool = False) -> str | None:
        if self._credentials is None:
            return None
        with self._token_lock:
            now = self._clock()
            if force_refresh or self._token is None or self._token.expires_at - TOKEN_REFRESH_MARGIN <= now:
                self._token = self._fetch_token(now)
            return self._token.value

    def _fetch_token(self, now: float) -> _Token:
        assert self._credentials is not None
        client_id, secret = self._credentials
        try:
            response = self._http.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
        except httpx.HTTPError as exc:
            raise OpenSkyError(f"token endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise OpenSkyError(f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
            return _Token(str(body["access_token"]), now + float(body.get("expires_in", 1800)))
        except (ValueError, KeyError, TypeError):
            raise OpenSkyError("token endpoint answered without an access_token") from None

    # -- flights -----------------------------------------------------------------------------
    def arrivals(self, airport: str, begin: int, end: int) -> list[dict[str, Any]]:
        return self._flights("arrival", airport, begin, end)

    def departures(self, airport: str, begin: int, end: int) -> list[dict[str, Any]]:
        return self._flights("departure", airport, begin, end)

    def _flights(self, kind: str, airport: str, begin: int, end: int) -> list[dict[str, Any]]:
        flights: list[dict[str, Any]] = []
        start = begin
        while start < end:
            stop = min(end, start + MAX_WINDOW_SECONDS)
            flights.extend(self._call(f"/flights/{kind}", {"airport": airport, "begin": start, "end": stop}))
            start = stop
        return flights

    def _call(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        now = self._clock()
        if now < self._blocked_until:
            self._on_call("rate_limited")
            raise RateLimited(self._blocked_until, f"rate limited for {self._blocked_until - now:.0f}s more")
        try:
            result: list[dict[str, Any]] = self._breaker.call(self._request, path, params)
        except pybreaker.CircuitBreakerError:
            self._on_call("circuit_open")
            raise OpenSkyError("circuit open: OpenSky failed repeatedly") from None
        return result

    def _request(self, path: str, params: dict[str, Any], retried: bool = False) -> list[dict[str, Any]]:
        token = self._bearer(force_refresh=retried)
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
        if remaining is not None and remaining.isdigit():
            self._on_remaining(int(remaining))
        status = response.status_code
        if status == 401 and token and not retried:
            return self._request(path, params, retried=True)
        if status == 404:
            self._on_call("empty")
            return []
        if status == 429:
            raw = response.headers.get("X-Rate-Limit-Retry-After-Seconds", "60")
            wait = float(raw) if raw.replace(".", "", 1).isdigit() else 60.0
            self._blocked_until = self._clock() + wait
            self._on_call("rate_limited")
            raise RateLimited(self._blocked_until, f"OpenSky rate limit; retry after {wait:.0f}s")
        if status != 200:
            self._on_call(f"http_{status}")
            raise OpenSkyError(f"OpenSky answered {status}")
        try:
            body = response.json()
        except ValueError:
            self._on_call("bad_body")
            raise OpenSkyError("OpenSky answered 200 without JSON") from None
        if not isinstance(body, list):
            self._on_call("bad_body")
            raise OpenSkyError("OpenSky answered 200 with something other than a list")
        self._on_call("ok")
        return [f for f in body if isinstance(f, dict)]


def make_breaker(fail_max: int, reset_seconds: float) -> pybreaker.CircuitBreaker:
    """A 429 is OpenSky protecting its quota, not OpenSky failing: it never opens the circuit."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=reset_seconds, exclude=[RateLimited], name="opensky"
    )
