"""HTTP client for the services' APIs: bearer token, JSON, errors mapped to CLI exit codes.

Mutating calls (`send`) carry an Idempotency-Key, are written to the journal with their outcome,
and are retried with the same key when the network fails (never when the server answered).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from flightctl.errors import AUTH, ERROR, USAGE, FlightctlError, UsageError
from flightctl.journal import Journal

REPLAYED_HEADER = "Idempotent-Replayed"  # set by user-manager when it replays a stored outcome
BACKOFF = (0.5, 1.0, 2.0)
KEY_MAX = 255


class ApiError(FlightctlError):
    def __init__(self, service: str, status: int, message: str, note: str = "") -> None:
        exit_code = AUTH if status in (401, 403) else (USAGE if status in (400, 413, 422) else ERROR)
        super().__init__(f"{service}: {message} (HTTP {status}){note}", exit_code)
        self.status = status


class Unreachable(FlightctlError):
    """No answer: the service could not be reached, or the connection broke before the response."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    key: str
    replayed: bool | None  # None: the service does not say whether it replayed
    attempts: int


def new_key() -> str:
    return str(uuid.uuid4())


def check_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
        raise UsageError("--idempotency-key must be 1 to 255 printable ASCII characters")
    return key


def _retryable(exc: httpx.TransportError) -> bool:
    return isinstance(exc, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError)


class ServiceClient:
    def __init__(
        self,
        service: str,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        verify: Any = True,
        journal: Journal | None = None,
        progress: Callable[[str], None] = lambda _m: None,
        backoff: Sequence[float] = BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.journal = journal
        self.progress = progress
        self.backoff = tuple(backoff)
        self.sleep = sleep
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, verify=verify, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reads --------------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        """One attempt: a read that fails is reported at once (re-running the command is safe)."""
        try:
            response = self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return self._check(response)

    def get_reply(self, path: str, **params: Any) -> tuple[int, Any]:
        """Like `get`, but hands back error answers instead of raising (for optional endpoints)."""
        try:
            response = self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return response.status_code, _body(response)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, body) of any request; one that carries an Idempotency-Key goes through `send`
        (journaled, retried); an error answer raises ApiError."""
        key = (headers or {}).get("Idempotency-Key")
        if key is not None:
            if params:
                raise ValueError("a request with an Idempotency-Key takes no query parameters")
            reply = self.send(method, path, json=json, key=key)
            return reply.status, reply.body
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return response.status_code, self._check(response)

    # -- writes -------------------------------------------------------------------------------
    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = None,
        replay: bool = False,
        raise_for_status: bool = True,
    ) -> Reply:
        """A mutating request under ``key`` (a new UUID when None): journaled, retried with the
        same key on a network failure, an HTTP error answer raised as ApiError."""
        key = check_key(key) if key is not None else new_key()
        if self.journal is not None:
            self.journal.request(key, self.service, method, path, json, replay=replay)
        attempts = len(self.backoff) + 1
        maybe_applied = False  # an earlier attempt may have reached the server
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, path, json=json, headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                self._journal_outcome(key, attempt, error=f"{type(exc).__name__}: {exc}")
                if not _retryable(exc) or attempt == attempts:
                    raise self._unreachable(exc, attempt, key) from None
                maybe_applied = maybe_applied or not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                delay = self.backoff[attempt - 1]
                self.progress(
                    f"{self.service}: {_reason(exc)}; retrying in {delay:g}s "
                    f"({attempt}/{attempts - 1}) with the same Idempotency-Key {key}"
                )
                self.sleep(delay)
                continue
            body = _body(response)
            header = response.headers.get(REPLAYED_HEADER)
            replayed = None if header is None else header.lower() == "true"
            self._journal_outcome(key, attempt, status=response.status_code, body=body, replayed=replayed)
            if raise_for_status and response.status_code >= 400:
                note = ""
                if maybe_applied and not replayed:
                    note = "; an earlier attempt whose answer was lost may already have applied this change"
                raise _api_error(self.service, response, body, note)
            if attempt > 1:
                how = "replayed the stored outcome" if replayed else "answered"
                self.progress(f"{self.service}: attempt {attempt} {how} (HTTP {response.status_code})")
            return Reply(response.status_code, body, key, replayed, attempt)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    # -- helpers ------------------------------------------------------------------------------
    def _journal_outcome(self, key: str, attempt: int, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.outcome(key, attempt, **fields)

    def _check(self, response: httpx.Response) -> Any:
        body = _body(response)
        if response.status_code >= 400:
            raise _api_error(self.service, response, body)
        return body

    def _unreachable(self, exc: httpx.TransportError, attempts: int = 1, key: str | None = None) -> Unreachable:
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        resend = f" (Idempotency-Key {key}; `flightctl replay run {key}` re-sends it)" if key else ""
        return Unreachable(
            f"{self.service} at {self.base_url}: {_reason(exc)}{tried}; check the platform with `flightctl status`"
            + resend
        )


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ConnectError):
        detail = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
            return f"TLS certificate not trusted ({detail})"
        return "cannot connect" + (f" ({detail})" if detail else "")
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "the connection closed before the answer arrived"
    return f"{type(exc).__name__}: {exc}"


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error": " ".join(response.text.split())[:200] or response.reason_phrase}


def _api_error(service: str, response: httpx.Response, body: Any, note: str = "") -> ApiError:
    message = body.get("error") if isinstance(body, dict) else None
    return ApiError(service, response.status_code, " ".join(str(message or response.reason_phrase).split()), note)


__all__ = ["ApiError", "Reply", "ServiceClient", "Unreachable", "check_key", "new_key"]
