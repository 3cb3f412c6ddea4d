"""The one interface the command layer drives a platform through, whatever runs it: the local
processes (flightctl.local.platform.LocalPlatform), or a cluster
(flightctl.kind.platform.ClusterPlatform): the Kind cluster flightctl creates (context ``kind``)
or an existing cluster it deploys into (context ``cluster``, its kube context and image delivery
given by a flightctl.kind.target.Target). :func:`create` is the only place that maps a context
name to its implementation; commands never ask which one they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from flightctl.kind.platform import BuildOptions
    from flightctl.kind.runner import Runner
    from flightctl.kind.target import Target
    from flightctl.platform.layout import Home

LOCAL, KIND, CLUSTER = "local", "kind", "cluster"
CONTEXTS = (LOCAL, KIND, CLUSTER)
# How long `up` waits for health by default: the whole local platform; each cluster workload.
LOCAL_UP_TIMEOUT = 180.0
KIND_UP_TIMEOUT = 600.0

Progress = Callable[[str], None]


@runtime_checkable
class Platform(Protocol):
    name: str
    """The context it serves: local, kind or cluster."""

    @property
    def required_tools(self) -> frozenset[str]:
        """The `flightctl doctor` checks this platform cannot do without."""

    def up(
        self,
        environ: Mapping[str, str],
        cwd: Path,
        port_base: int | None = None,
        timeout: float | None = None,
        *,
        multi_node: bool = False,
        ingress: bool = False,
    ) -> dict[str, Any] | None:
        """Start what is missing and wait until all is healthy; the status, or None when
        nothing ran (a dry run). An option the platform has no use for is a UsageError;
        callers pass ``ingress`` only when it was asked for (each platform has its default)."""

    def down(self, purge: bool = False, components: Sequence[str] = ()) -> list[str] | None:
        """Stop everything (or only ``components``); what was stopped, or None (a dry run)."""

    def status(self) -> dict[str, Any]:
        """The `flightctl status` object: gateway, prometheus, kafka, postgres, services."""

    def logs(self, component: str, lines: int, follow: bool, out: Callable[[str], None]) -> None:
        """The last ``lines`` of a component's log, written to ``out`` as they are; ``follow``
        keeps streaming to the terminal until Ctrl-C (KeyboardInterrupt)."""

    def service_url(self, service: str) -> str:
        """Where the CLI reaches a service's HTTP API."""

    def api_token(self) -> tuple[str, str] | None:
        """The API token the services run with and where it was found, if known."""

    def certificate(self) -> Path | None:
        """The gateway's self-signed certificate flightctl made, to verify HTTPS against."""

    def component_versions(self) -> dict[str, dict[str, Any]]:
        """PostgreSQL, Kafka, Prometheus and NGINX: each one's version and where it comes from."""


def create(
    name: str,
    home: Home,
    progress: Progress,
    *,
    runner: Callable[[], Runner],
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    target: Target | None = None,
    build: BuildOptions | None = None,
) -> Platform:
    """The platform of the context ``name``. ``runner`` gives the command runner for docker,
    kind, kubectl and ctr; ``dry_run`` prints the cluster's commands instead of running them (the
    local platform refuses it). ``target``: the existing cluster of the ``cluster`` context
    (required there); ``build``: how a cluster's `up` builds the images."""
    if name in (KIND, CLUSTER):
        from flightctl.kind.platform import ClusterPlatform
        from flightctl.kind.target import Target

        if name == CLUSTER and (target is None or target.owned):
            raise ValueError("the cluster context needs the target cluster")
        chosen = target if name == CLUSTER else Target.kind()
        return ClusterPlatform(home, runner(), progress, target=chosen, build=build, dry_run=dry_run, echo=echo)
    if name == LOCAL:
        from flightctl.local.platform import LocalPlatform

        return LocalPlatform(home, progress, dry_run=dry_run)
    raise ValueError(f"unknown context {name!r}")


def existing(home: Home, runner: Callable[[], Runner]) -> str:
    """The context whose platform `down` stops when none was named: local when this home has a
    local platform, else kind when kind is installed, else local (there is nothing to stop)."""
    if home.load_state() is not None or runner().which("kind") is None:
        return LOCAL
    return KIND
