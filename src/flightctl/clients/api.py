"""HTTP client for the services' APIs: bearer token, JSON, errors mapped to CLI exit codes."""

from __future__ import annotations

from typing import Any

import httpx

from flightctl.errors import AuthError, FlightctlError, UsageError


class ApiError(FlightctlError):
    def __init__(self, service: str, status: int, message: str) -> None:
        exit_code = 4 if status == 401 else (2 if status in (400, 413, 422) else 1)
        super().__init__(f"{service}: {message} (HTTP {status})", exit_code)
        self.status = status


class ServiceClient:
    def __init__(self, service: str, base_url: str, token: str | None, timeout: float = 30.0) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.ConnectError:
            raise FlightctlError(
                f"cannot reach {self.service} at {self.base_url}; is the platform up? check with `flightctl status`"
            ) from None
        except httpx.TimeoutException:
            raise FlightctlError(f"{self.service} at {self.base_url} did not answer in time") from None
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text.strip()[:200] or response.reason_phrase}
        if response.status_code >= 400:
            message = body.get("error") if isinstance(body, dict) else None
            raise ApiError(self.service, response.status_code, message or response.reason_phrase)
        return response.status_code, body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})[1]


def check_token(token: str | None) -> None:
    if token is not None and not token.strip():
        raise AuthError("the API token is empty")


__all__ = ["ApiError", "AuthError", "ServiceClient", "UsageError", "check_token"]
