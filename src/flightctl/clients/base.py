"""The base of the typed per-service clients: named methods over one ServiceClient, which keeps
the Idempotency-Key, journal and retry behaviour of every mutating call.

A typed client can be given its ServiceClient, or a function that makes it on first use (so a
bad --idempotency-key is reported before anything is looked up or connected)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flightctl.clients.api import ServiceClient, check_key


class ServiceApi:
    service: ClassVar[str]

    def __init__(self, http: ServiceClient | Callable[[], ServiceClient]) -> None:
        self._given = http
        self._http: ServiceClient | None = http if isinstance(http, ServiceClient) else None

    @property
    def http(self) -> ServiceClient:
        """The underlying ServiceClient (made on first use when a function was given)."""
        if self._http is None:
            assert callable(self._given)
            self._http = self._given()
        return self._http

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def health(self) -> tuple[int, Any]:
        """(HTTP status, body) of /health; an unhealthy answer is returned, not raised."""
        return self.http.get_reply("/health")

    def ping(self) -> Any:
        return self.http.get("/ping")

    def _change(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        """A mutating call under ``key`` (default: a new UUID); its answer's body. A stored
        outcome the service replayed instead of running the request again is reported."""
        if key is not None:
            check_key(key)  # a usage error before anything else
        reply = self.http.send(method, path, json=body, key=key)
        if reply.replayed:
            self.http.progress(
                f"{self.service} replayed the stored outcome of Idempotency-Key {reply.key}: nothing ran twice"
            )
        return reply.body
