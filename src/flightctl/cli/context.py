"""The context object built once in the root callback and handed to every command.

A *context* says which platform flightctl talks to: `local` (processes on this machine, found
through `$FLIGHTCTL_HOME/state.json`) or `kind` (the cluster, found by `flightctl.kind.endpoints`).
The current context and per-context API tokens are remembered in `$FLIGHTCTL_HOME/config.json`
(`flightctl context use`); `--context` / `FLIGHTCTL_CONTEXT` and `--token` / `FLIGHTCTL_TOKEN`
override them for one command.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flightctl.errors import FlightctlError, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from flightctl.local.layout import Home

FLIGHTCTL_HOME = "FLIGHTCTL_HOME"
FLIGHTCTL_CONTEXT = "FLIGHTCTL_CONTEXT"
FLIGHTCTL_TOKEN = "FLIGHTCTL_TOKEN"  # noqa: S105 - the variable name, not a token
FLIGHTCTL_PORT_BASE = "FLIGHTCTL_PORT_BASE"
FLIGHTCTL_RETRIES = "FLIGHTCTL_RETRIES"
CONTEXTS = ("local", "kind")
CONFIG_FILE = "config.json"
CERT_FILE = ("certs", "gateway.crt")


def service_url_variable(service: str) -> str:
    """`FLIGHTCTL_USER_MANAGER_URL`: points flightctl at a service directly (a port-forward, a proxy)."""
    return "FLIGHTCTL_" + service.upper().replace("-", "_") + "_URL"


def load_config(home: Home) -> dict[str, Any]:
    path = home.path(CONFIG_FILE)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FlightctlError(f"{path} is unreadable ({exc}); fix or delete it") from None
    return data if isinstance(data, dict) else {}


def save_config(home: Home, config: dict[str, Any]) -> None:
    home.root.mkdir(parents=True, exist_ok=True)
    path = home.path(CONFIG_FILE)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
    tmp.replace(path)


def resolve_context(home: Home, given: str | None) -> tuple[str, str]:
    """(context, where it came from): --context/FLIGHTCTL_CONTEXT, else config.json, else local."""
    if given:
        name, source = given, "option"
    else:
        remembered = load_config(home).get("context")
        name, source = (str(remembered), "config") if remembered else ("local", "default")
    if name not in CONTEXTS:
        raise UsageError(f"unknown context {name!r}: choose local or kind")
    return name, source


@dataclass
class Context:
    home: Home
    context: str = "local"
    output: str = "table"
    token_override: str | None = None
    context_source: str = "option"
    """option (--context or FLIGHTCTL_CONTEXT), config (`flightctl context use`) or default."""
    _clients: dict[str, Any] = field(default_factory=dict)

    def progress(self, message: str) -> None:
        print(f"» {message}", file=sys.stderr, flush=True)

    # -- token --------------------------------------------------------------------------------
    def token_and_source(self) -> tuple[str | None, str]:
        if self.token_override:
            return self.token_override, "--token/FLIGHTCTL_TOKEN"
        remembered = (load_config(self.home).get("tokens") or {}).get(self.context)
        if remembered:
            return str(remembered), f"{CONFIG_FILE} ({self.context})"
        if self.context == "kind":
            from flightctl.kind.endpoints import api_token

            token = api_token(self.home)
            if token:
                return token, "the kind cluster's secret"
        else:
            state = self.home.load_state()
            if state is not None:
                return state.api_token, "state.json"
        if os.environ.get("API_TOKEN"):
            return os.environ["API_TOKEN"], "API_TOKEN"
        return None, "none"

    def token(self) -> str | None:
        return self.token_and_source()[0]

    # -- where the services are -----------------------------------------------------------------
    def service_url(self, service: str) -> str:
        override = os.environ.get(service_url_variable(service))
        if override:
            return override.rstrip("/")
        if self.context == "kind":
            from flightctl.kind.endpoints import service_url

            return service_url(self.home, service)
        state = self.home.load_state()
        if state is None:
            raise FlightctlError(f"no local platform in {self.home.root}; start it with `flightctl up --local`")
        return f"http://127.0.0.1:{state.ports.http(service)}"

    def certificate(self) -> Path | None:
        """The gateway's self-signed certificate flightctl made for this context, if any."""
        if self.context == "kind":
            from flightctl.kind.endpoints import certificate

            return certificate(self.home)
        path = self.home.path(*CERT_FILE)
        return path if path.is_file() else None

    def verify(self, url: str) -> Any:
        """TLS verification for ``url``: the gateway certificate flightctl made, when there is one,
        trusted alongside the system's CAs; verification is never turned off."""
        cert = self.certificate() if url.startswith("https://") else None
        if cert is None:
            return True
        import ssl

        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(cert))
        return context

    def retries(self) -> int:
        raw = os.environ.get(FLIGHTCTL_RETRIES, "3")
        if not raw.isdigit():
            raise UsageError(f"{FLIGHTCTL_RETRIES} must be a whole number, not {raw!r}")
        return int(raw)

    def journal(self) -> Any:
        from flightctl.journal import FILE_NAME, Journal

        return Journal(self.home.path(FILE_NAME))

    def client(self, service: str) -> Any:
        from flightctl.clients.api import BACKOFF, ServiceClient

        if service not in self._clients:
            url = self.service_url(service)
            retries = self.retries()
            backoff = [BACKOFF[min(i, len(BACKOFF) - 1)] for i in range(retries)]
            self._clients[service] = ServiceClient(
                service,
                url,
                self.token(),
                verify=self.verify(url),
                journal=self.journal(),
                progress=self.progress,
                backoff=backoff,
            )
        return self._clients[service]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
