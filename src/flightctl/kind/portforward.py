"""`flightctl port-forward`: `kubectl port-forward` processes on 127.0.0.1, one per service (or
the gateway, or Prometheus), tracked by process id in <target state>/port-forwards/<service>.json
($FLIGHTCTL_HOME/kind/... for the Kind cluster, $FLIGHTCTL_HOME/cluster/<kube context>/... for
an existing one). Every function takes the target (flightctl.kind.target); None is Kind.

A record is trusted only while its process is alive and its command line still matches
(flightctl.platform.proc), so a stale record or a recycled pid is never used or signalled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flightctl.errors import FlightctlError, PrerequisiteMissing, UsageError
from flightctl.kind import layout
from flightctl.kind.runner import Runner
from flightctl.platform import proc
from flightctl.platform.layout import Home, free_port, port_in_use

if TYPE_CHECKING:
    from flightctl.kind.target import Target


@dataclass(frozen=True)
class Forward:
    service: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        scheme = "https" if self.service == layout.GATEWAY else "http"  # the gateway's port is its HTTPS one
        return f"{scheme}://127.0.0.1:{self.port}"

    def as_dict(self) -> dict[str, object]:
        return {"service": self.service, "url": self.url, "port": self.port, "pid": self.pid}


def command(service: str, port: int | str, target: Target | None = None) -> list[str]:
    from flightctl.kind.target import Target

    return (target or Target.kind()).kubectl(
        "port-forward",
        "--address",
        "127.0.0.1",
        f"svc/{service}",
        f"{port}:{layout.FORWARDABLE[service]}",
        namespace=layout.NAMESPACE,
    )


def active(home: Home, service: str, target: Target | None = None) -> Forward | None:
    """The recorded forward for ``service`` when its process is still alive, else None (and a
    stale record is removed)."""
    run_dir = layout.forwards_dir(home, target)
    if proc.find(run_dir, service) is None:
        return None
    data = json.loads((run_dir / f"{service}.json").read_text())
    return Forward(service, int(data["port"]), int(data["pid"]))


def listing(home: Home, target: Target | None = None) -> list[Forward]:
    run_dir = layout.forwards_dir(home, target)
    if not run_dir.is_dir():
        return []
    found = (active(home, path.stem, target) for path in sorted(run_dir.glob("*.json")))
    return [forward for forward in found if forward is not None]


def start(
    home: Home,
    runner: Runner,
    service: str,
    port: int | None = None,
    *,
    target: Target | None = None,
    timeout: float = 15.0,
) -> Forward:
    """Start forwarding 127.0.0.1:``port`` (default: a free one) to the service; wait until the
    port accepts connections. An existing live forward for the service is kept and returned."""
    if service not in layout.FORWARDABLE:
        raise UsageError(f"cannot forward {service!r}; choose one of {', '.join(layout.FORWARDABLE)}")
    existing = active(home, service, target)
    if existing is not None:
        if port is None or port == existing.port:
            return existing
        raise UsageError(f"{service} is already forwarded on port {existing.port}; stop it first")
    local_port = port or free_port()
    argv = command(service, local_port, target)
    if port_in_use(local_port):
        raise UsageError(f"port {local_port} on 127.0.0.1 is already in use")
    if runner.which("kubectl") is None:
        raise PrerequisiteMissing(
            "kubectl is required for port-forward: install it (https://kubernetes.io/docs/tasks/tools/)"
        )
    run_dir = layout.forwards_dir(home, target)
    log_file = run_dir / f"{service}.log"
    started = runner.start(argv, log_file)
    record = proc.Running(service, started.pid, started.match, "")
    proc.record(run_dir, record)
    # Keep the port with the record (proc.find reads pid and match, and ignores the rest).
    pid_file = run_dir / f"{service}.json"
    pid_file.write_text(json.dumps({**json.loads(pid_file.read_text()), "port": local_port, "service": service}))
    # Liveness by pid only here: until the child has exec'ed, its command line is not yet the
    # one recorded (and it is our own child, so its pid cannot be recycled meanwhile).
    proc.wait_until(lambda: port_in_use(local_port) or not proc.alive(started.pid), timeout, interval=0.05)
    if not (proc.alive(started.pid) and port_in_use(local_port)):
        exited = not proc.alive(started.pid)
        proc.stop(run_dir, service, timeout=5)
        pid_file.unlink(missing_ok=True)
        why = proc.tail(log_file, 5) if exited else f"port {local_port} did not open within {timeout:.0f}s"
        raise FlightctlError(f"kubectl port-forward for {service} stopped: {why}")
    return Forward(service, local_port, started.pid)


def stop(home: Home, service: str, target: Target | None = None) -> bool:
    """Stop the service's forward; False when none was running."""
    return proc.stop(layout.forwards_dir(home, target), service, timeout=5)


def stop_all(
    home: Home, dry_run: bool = False, echo: Callable[[str], None] = print, target: Target | None = None
) -> list[str]:
    stopped = []
    for forward in listing(home, target):
        if dry_run:
            echo(f"# stop the port-forward of {forward.service} (pid {forward.pid})")
            continue
        if stop(home, forward.service, target):
            stopped.append(forward.service)
    return stopped
