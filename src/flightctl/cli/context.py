"""The context object built once in the root callback and handed to every command."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from flightctl.errors import FlightctlError
from flightctl.local.layout import Home

FLIGHTCTL_HOME = "FLIGHTCTL_HOME"
FLIGHTCTL_CONTEXT = "FLIGHTCTL_CONTEXT"
FLIGHTCTL_TOKEN = "FLIGHTCTL_TOKEN"  # noqa: S105 - the variable name, not a token
FLIGHTCTL_PORT_BASE = "FLIGHTCTL_PORT_BASE"


@dataclass
class Context:
    home: Home
    context: str = "local"
    output: str = "table"
    token_override: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def progress(self, message: str) -> None:
        print(f"» {message}", file=sys.stderr, flush=True)

    def token(self) -> str | None:
        if self.token_override:
            return self.token_override
        state = self.home.load_state()
        return state.api_token if state else os.environ.get("API_TOKEN")

    def service_url(self, service: str) -> str:
        if self.context != "local":
            raise FlightctlError("the kind context is not available yet; use --context local")
        state = self.home.load_state()
        if state is None:
            raise FlightctlError(f"no local platform in {self.home.root}; start it with `flightctl up --local`")
        return f"http://127.0.0.1:{state.ports.http(service)}"

    def client(self, service: str) -> Any:
        from flightctl.clients.api import ServiceClient

        if service not in self._clients:
            self._clients[service] = ServiceClient(service, self.service_url(service), self.token())
        return self._clients[service]
