"""Prometheus's HTTP API (instant queries), as `flightctl top` reads it."""

from __future__ import annotations

from typing import Any

import httpx


class PrometheusError(Exception):
    """Prometheus did not answer, or refused the query; the message says which."""


class Prometheus:
    def __init__(self, url: str, *, timeout: float = 5.0, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def vector(self, query: str) -> list[tuple[dict[str, str], float]]:
        """An instant query's samples: (labels, value) each; an empty list when nothing matches."""
        try:
            response = self._client.get(f"{self.url}/api/v1/query", params={"query": query})
        except httpx.HTTPError as exc:
            raise PrometheusError(f"unreachable at {self.url} ({type(exc).__name__}: {exc})") from None
        try:
            body: Any = response.json()
        except ValueError:
            raise PrometheusError(f"{self.url} answered HTTP {response.status_code}, not JSON") from None
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"{self.url} refused {query!r}: {body.get('error') or response.status_code}")
        data = body.get("data") or {}
        if data.get("resultType") == "scalar":
            return [({}, float(data["result"][1]))]
        return [(dict(item.get("metric") or {}), float(item["value"][1])) for item in data.get("result") or []]

    def by(self, query: str, *labels: str) -> dict[tuple[str, ...], float]:
        """The samples keyed by the values of ``labels`` (missing ones as "")."""
        return {tuple(m.get(label, "") for label in labels): value for m, value in self.vector(query)}
