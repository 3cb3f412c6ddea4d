"""`$FLIGHTCTL_HOME` and the names both platforms share: the services, where the gateway routes
each of them, the local platform's ports (recorded in ``state.json``), and whether a port is
taken."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_PORT_BASE = 18400
SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")
MODULES = {name: "flightctl.services." + name.replace("-", "_") for name in SERVICES}
# The services with a public API, and the path prefix the gateway (the project's NGINX, locally and on
# a cluster) serves each under (docs/api.md). alert-system has no public API.
GATEWAY_PREFIXES = {
    "user-manager": "user-manager",
    "data-collector": "data-collector",
    "sla-breach-detector": "sla-detector",
    "alert-notifier": "notifier",
}
GRPC_SERVICES = ("user-manager", "data-collector")


@dataclass(frozen=True)
class Ports:
    """Every port of the local platform derives from one base, so a second platform only needs
    another base."""

    base: int

    @property
    def postgres(self) -> int:
        return self.base

    @property
    def kafka(self) -> int:
        return self.base + 1

    @property
    def kafka_controller(self) -> int:
        return self.base + 2

    @property
    def prometheus(self) -> int:
        return self.base + 3

    @property
    def gateway_https(self) -> int:
        return self.base + 4

    @property
    def gateway_http(self) -> int:
        return self.base + 5

    def http(self, service: str) -> int:
        return self.base + 10 + SERVICES.index(service)

    def grpc(self, service: str) -> int:
        return self.base + 20 + GRPC_SERVICES.index(service)

    def all(self) -> dict[str, int]:
        ports = {
            "postgres": self.postgres,
            "kafka": self.kafka,
            "kafka-controller": self.kafka_controller,
            "prometheus": self.prometheus,
            "gateway-https": self.gateway_https,
            "gateway-http": self.gateway_http,
        }
        ports.update({f"{s} http": self.http(s) for s in SERVICES})
        ports.update({f"{s} grpc": self.grpc(s) for s in GRPC_SERVICES})
        return ports


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class State:
    """Persisted in $FLIGHTCTL_HOME/state.json: what `up --local` chose, reused by every later
    command (and the sign that this home has a local platform)."""

    port_base: int
    api_token: str
    postgres_password: str
    kafka_cluster_id: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ports(self) -> Ports:
        return Ports(self.port_base)


class Home:
    """The state directory (`--home`, FLIGHTCTL_HOME, default ./.flightctl) of both platforms."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def from_env(cls, value: str | None = None) -> Home:
        return cls(Path(value or os.environ.get("FLIGHTCTL_HOME") or ".flightctl"))

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    @property
    def logs(self) -> Path:
        return self.path("logs")

    @property
    def run(self) -> Path:
        return self.path("run")

    @property
    def state_file(self) -> Path:
        return self.path("state.json")

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def load_state(self) -> State | None:
        if not self.state_file.exists():
            return None
        return State(**json.loads(self.state_file.read_text()))

    def save_state(self, state: State) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)
