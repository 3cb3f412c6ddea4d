"""The context object built once in the root callback and handed to every command (``ctx.obj``).

A *context* says which platform flightctl talks to: `local` (processes on this machine, found
through `$FLIGHTCTL_HOME/state.json`), `kind` (the Kind cluster flightctl creates) or `cluster`
(an existing cluster flightctl deploys into: its kube context and how images reach it, a
flightctl.kind.target.Target). The current context, the cluster target and per-context API
tokens are remembered in `$FLIGHTCTL_HOME/config.json` (`flightctl context use`, and `flightctl
up --kube-context ...` for the target); `--context` / `FLIGHTCTL_CONTEXT` and `--token` /
`FLIGHTCTL_TOKEN` override them for one command.

Commands reach the outside world only through this object: the platform of the context
(``platform()``), the services through typed clients (``users``, ``collector``, ``notifier``,
``sla``), the journal. What it connects with can be given (:class:`Dependencies`), so that a
test drives the real CLI against stand-ins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightctl.errors import FlightctlError, UsageError
from flightctl.platform.interface import CLUSTER, CONTEXTS, KIND, LOCAL

if TYPE_CHECKING:
    from flightctl.clients.alert_notifier import AlertNotifier
    from flightctl.clients.api import ServiceClient
    from flightctl.clients.data_collector import DataCollector
    from flightctl.clients.sla_breach_detector import SlaBreachDetector
    from flightctl.clients.user_manager import UserManager
    from flightctl.journal import Journal
    from flightctl.kind.platform import BuildOptions
    from flightctl.kind.runner import Runner
    from flightctl.kind.target import Target
    from flightctl.platform.interface import Platform
    from flightctl.platform.layout import Home

FLIGHTCTL_HOME = "FLIGHTCTL_HOME"
FLIGHTCTL_CONTEXT = "FLIGHTCTL_CONTEXT"
FLIGHTCTL_TOKEN = "FLIGHTCTL_TOKEN"  # noqa: S105 - the variable name, not a token
FLIGHTCTL_PORT_BASE = "FLIGHTCTL_PORT_BASE"
FLIGHTCTL_RETRIES = "FLIGHTCTL_RETRIES"
IDEMPOTENCY_TTL_SECONDS = "IDEMPOTENCY_TTL_SECONDS"
CONFIG_FILE = "config.json"

ClientFactory = Callable[[str], "ServiceClient"]
"""Makes the ServiceClient of a service (by name)."""


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
        raise UsageError(f"unknown context {name!r}: choose {', '.join(CONTEXTS)}")
    return name, source


def remembered_target(home: Home) -> Target | None:
    """The cluster target of the `cluster` context (config.json ``cluster``), if one was chosen."""
    from flightctl.kind.target import Target

    return Target.from_config(load_config(home).get(CLUSTER))


def remember_target(home: Home, target: Target) -> None:
    config = load_config(home)
    config[CLUSTER] = target.to_config()
    save_config(home, config)


def target_from_options(
    home: Home,
    kube_context: str | None,
    *,
    kubeconfig: str | None = None,
    image_load: str | None = None,
    registry: str | None = None,
    containerd_address: str | None = None,
) -> Target:
    """The cluster target the options name. What is not given is taken from the remembered
    target when it is the same kube context (or no kube context was given)."""
    from flightctl.kind.target import Target

    remembered = remembered_target(home)
    if remembered is not None and kube_context in (None, remembered.kube_context):
        kube_context = remembered.kube_context
        kubeconfig = kubeconfig if kubeconfig is not None else remembered.kubeconfig
        if image_load is None and registry is None:
            image_load, registry = remembered.image_load, remembered.registry
        if containerd_address is None:
            containerd_address = remembered.containerd_address
    if kube_context is None:
        raise UsageError("no cluster chosen: name it with --kube-context NAME (kubectl config get-contexts)")
    return Target.cluster(
        kube_context,
        kubeconfig=kubeconfig,
        image_load=image_load,
        registry=registry,
        containerd_address=containerd_address,
    )


def idempotency_ttl(environ: Mapping[str, str], cwd: Path) -> float:
    """user-manager's IDEMPOTENCY_TTL_SECONDS as the platform is configured (the environment,
    else ./.env, as `up` passes it on), else its default: how long the journal may keep
    personal data for a replay."""
    from flightctl.config import configuration
    from flightctl.journal import DEFAULT_TTL

    raw = configuration(environ, cwd).get(IDEMPOTENCY_TTL_SECONDS, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TTL
    return value if value > 0 else DEFAULT_TTL


@dataclass(frozen=True)
class Dependencies:
    """What the commands connect with, when not the real thing: ``connect`` makes a service's
    ServiceClient, ``runner`` runs docker, kind and kubectl. Hand them to the CLI as Click's
    ``obj`` (``CliRunner().invoke(app, args, obj=Dependencies(runner=...))``); the root callback
    builds the Context with them."""

    connect: ClientFactory | None = None
    runner: Runner | None = None


@dataclass
class Context:
    home: Home
    context: str = "local"
    output: str = "table"
    token_override: str | None = None
    context_source: str = "option"
    """option (--context or FLIGHTCTL_CONTEXT), config (`flightctl context use`) or default."""
    connect: ClientFactory | None = None
    """Makes a service's ServiceClient; None: from the context's URL, token and certificate."""
    runner: Runner | None = None
    """Runs docker, kind and kubectl; None: the real programs (made on first use)."""
    cluster_target: Target | None = None
    """The cluster of the `cluster` context for this command (None: the remembered one)."""
    build: BuildOptions | None = None
    """How a cluster's `up` builds the images (None: the defaults)."""
    _clients: dict[str, ServiceClient] = field(default_factory=dict, init=False, repr=False)

    def progress(self, message: str) -> None:
        from flightctl.cli.output import progress

        progress(message, self.output)

    # -- the platform -------------------------------------------------------------------------
    def kind_runner(self) -> Runner:
        if self.runner is None:
            from flightctl.kind.runner import SubprocessRunner

            self.runner = SubprocessRunner()
        return self.runner

    def choose(self, local: bool, kind: bool, default: str | None = None, *, cluster: bool = False) -> None:
        """--local / --kind / --kube-context on a command override the global --context; when
        no context was chosen at all (no --context, FLIGHTCTL_CONTEXT or `flightctl context
        use`), ``default``."""
        if local + kind + cluster > 1:
            raise UsageError("--local, --kind and --kube-context exclude each other")
        if local:
            self.context = LOCAL
        elif kind:
            self.context = KIND
        elif cluster:
            self.context = CLUSTER
        elif default is not None and self.context_source == "default":
            self.context = default

    def target(self) -> Target:
        """The cluster this context deploys to: the Kind cluster, or the `cluster` context's
        (given for this command, else remembered)."""
        from flightctl.kind.target import Target

        if self.context != CLUSTER:
            return Target.kind()
        if self.cluster_target is not None:
            return self.cluster_target
        remembered = remembered_target(self.home)
        if remembered is None:
            raise UsageError(
                "the cluster context has no cluster yet: `flightctl up --kube-context NAME ...` or "
                "`flightctl context use cluster --kube-context NAME ...`"
            )
        return remembered

    def existing(self) -> str:
        """The context `down` stops when none was chosen (flightctl.platform.interface.existing)."""
        from flightctl.platform.interface import existing

        return existing(self.home, self.kind_runner)

    def platform(self, dry_run: bool = False, echo: Callable[[str], None] = print) -> Platform:
        from flightctl.platform.interface import create

        return create(
            self.context,
            self.home,
            self.progress,
            runner=self.kind_runner,
            dry_run=dry_run,
            echo=echo,
            target=self.target() if self.context == CLUSTER else None,
            build=self.build,
        )

    # -- token --------------------------------------------------------------------------------
    def token_and_source(self) -> tuple[str | None, str]:
        if self.token_override:
            return self.token_override, "--token/FLIGHTCTL_TOKEN"
        remembered = (load_config(self.home).get("tokens") or {}).get(self.context)
        if remembered:
            return str(remembered), f"{CONFIG_FILE} ({self.context})"
        found = self.platform().api_token()
        if found is not None:
            return found
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
        return self.platform().service_url(service)

    def certificate(self) -> Path | None:
        """The gateway's self-signed certificate flightctl made for this context, if any."""
        return self.platform().certificate()

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

    def journal(self) -> Journal:
        from flightctl.journal import FILE_NAME, Journal

        return Journal(self.home.path(FILE_NAME), ttl=idempotency_ttl(os.environ, Path.cwd()))

    # -- the services -------------------------------------------------------------------------
    def client(self, service: str) -> ServiceClient:
        """The service's ServiceClient, made once per command."""
        if service not in self._clients:
            self._clients[service] = (self.connect or self._connect)(service)
        return self._clients[service]

    def _connect(self, service: str) -> ServiceClient:
        from flightctl.clients.api import BACKOFF, ServiceClient

        url = self.service_url(service)
        retries = self.retries()
        return ServiceClient(
            service,
            url,
            self.token(),
            verify=self.verify(url),
            journal=self.journal(),
            progress=self.progress,
            backoff=[BACKOFF[min(i, len(BACKOFF) - 1)] for i in range(retries)],
        )

    @property
    def users(self) -> UserManager:
        from flightctl.clients.user_manager import UserManager

        return UserManager(lambda: self.client(UserManager.service))

    @property
    def collector(self) -> DataCollector:
        from flightctl.clients.data_collector import DataCollector

        return DataCollector(lambda: self.client(DataCollector.service))

    @property
    def notifier(self) -> AlertNotifier:
        from flightctl.clients.alert_notifier import AlertNotifier

        return AlertNotifier(lambda: self.client(AlertNotifier.service))

    @property
    def sla(self) -> SlaBreachDetector:
        from flightctl.clients.sla_breach_detector import SlaBreachDetector

        return SlaBreachDetector(lambda: self.client(SlaBreachDetector.service))

    def close(self) -> None:
        """End the progress display; close every client this command opened."""
        from flightctl.cli.output import finish_progress

        finish_progress()
        for client in self._clients.values():
            client.close()
        self._clients.clear()
