"""`flightctl up/down/status/logs --local`: the whole platform as processes on this machine,
brought up in order, waited for until every component is healthy, and taken down again by
process id. One implementation of flightctl.platform.interface.Platform."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from flightctl.config import configuration
from flightctl.errors import FlightctlError, UsageError
from flightctl.local import kafka, nginx, postgres, prometheus, services, supervisor
from flightctl.local.layout import LOG_NAMES
from flightctl.platform import certs, proc
from flightctl.platform.interface import LOCAL, LOCAL_UP_TIMEOUT
from flightctl.platform.layout import DEFAULT_PORT_BASE, GRPC_SERVICES, SERVICES, Home, State, port_in_use

if TYPE_CHECKING:
    from flightctl.local.backup import LocalServer

Progress = Callable[[str], None]
INFRA = ("kafka", "prometheus", "gateway")
CERT_FILE = ("certs", "gateway.crt")
LOG_MAX_BYTES = "FLIGHTCTL_LOG_MAX_BYTES"
LOG_FILES = "FLIGHTCTL_LOG_FILES"
SUPERVISED = "supervised-1"  # part of every fingerprint: `up` replaces components started before supervision


def log_rotation(environ: Mapping[str, str]) -> tuple[int, int]:
    """(bytes per log file, rotated files kept) from FLIGHTCTL_LOG_MAX_BYTES and FLIGHTCTL_LOG_FILES."""
    values = []
    for name, default in ((LOG_MAX_BYTES, supervisor.DEFAULT_LOG_MAX_BYTES), (LOG_FILES, supervisor.DEFAULT_LOG_FILES)):
        raw = environ.get(name) or str(default)
        if not raw.isdigit():
            raise UsageError(f"{name} must be a whole number, not {raw!r}")
        values.append(int(raw))
    if values[0] < 4096:
        raise UsageError(f"{LOG_MAX_BYTES} must be at least 4096")
    return values[0], values[1]


class LocalPlatform:
    name = LOCAL
    required_tools = frozenset({"java", "maven", "initdb", "pg_ctl", "prometheus", "nginx", "ports"})

    def __init__(self, home: Home, progress: Progress = lambda _m: None, *, dry_run: bool = False) -> None:
        self.home = home
        self.progress = progress
        self.dry_run = dry_run  # refused: a dry run is the cluster's (it prints kubectl commands)
        self._started: list[str] = []  # what the current `up` started (stopped again on Ctrl-C)
        self._rotation = (supervisor.DEFAULT_LOG_MAX_BYTES, supervisor.DEFAULT_LOG_FILES)

    # -- state ------------------------------------------------------------------------------
    def state(self, port_base: int | None = None, api_token: str | None = None) -> State:
        state = self.home.load_state()
        if state is None:
            state = State(
                port_base=port_base or DEFAULT_PORT_BASE,
                api_token=api_token or secrets.token_urlsafe(32),
                postgres_password=secrets.token_urlsafe(24),
                kafka_cluster_id=kafka.new_cluster_id(),
            )
        else:
            if port_base and port_base != state.port_base:
                if self.anything_running():
                    raise FlightctlError(
                        f"the platform runs on port base {state.port_base}; `flightctl down --local` first to change it"
                    )
                state.port_base = port_base
            if api_token:
                state.api_token = api_token
        self.home.save_state(state)
        return state

    def anything_running(self) -> bool:
        names = (*INFRA, *SERVICES)
        return postgres.running(self.home) or any(proc.find(self.home.run, n) for n in names)

    # -- up ---------------------------------------------------------------------------------
    def up(
        self,
        environ: Mapping[str, str],
        cwd: Path,
        port_base: int | None = None,
        timeout: float | None = None,
        *,
        multi_node: bool = False,
        ingress: bool = True,
    ) -> dict[str, Any]:
        """Start what is not running, in order, and wait until all is healthy (``timeout``
        seconds, default 180). Ctrl-C stops what this call had started (what was running before
        stays), so no half-started platform is left behind."""
        if self.dry_run or multi_node or not ingress:
            raise UsageError("--dry-run, --multi-node and --no-ingress apply to the kind cluster only")
        timeout = timeout or LOCAL_UP_TIMEOUT
        self._started = []
        postgres_was_running = postgres.running(self.home)
        try:
            return self._up(environ, cwd, port_base, timeout)
        except KeyboardInterrupt:
            if not postgres_was_running and postgres.running(self.home) and "postgres" not in self._started:
                self._started.insert(0, "postgres")  # interrupted while pg_ctl was starting it
            if self._started:
                self.progress("interrupted: stopping what this run started: " + ", ".join(reversed(self._started)))
                self._stop_components(list(reversed(self._started)))
            raise

    def _up(self, environ: Mapping[str, str], cwd: Path, port_base: int | None, timeout: float) -> dict[str, Any]:
        self.home.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.home.root.chmod(0o755)  # the postgres user must traverse it
        self.home.logs.mkdir(parents=True, exist_ok=True)
        self._rotation = log_rotation(environ)
        state = self.state(port_base, environ.get("API_TOKEN") or None)
        self._check_ports(state)
        config = configuration(environ, cwd)

        started = time.monotonic()
        self.progress("certificates")
        cert, key = certs.make_self_signed(self.home.path("certs"))

        self.progress(f"PostgreSQL on 127.0.0.1:{state.ports.postgres}")
        postgres.init(self.home, state)
        if not postgres.running(self.home):
            postgres.start(self.home, state)
            self._started.append("postgres")
        postgres.create_databases(state)

        self.progress(f"Apache Kafka on 127.0.0.1:{state.ports.kafka}")
        kafka.ensure_jars(self.progress)
        properties = kafka.write_config(self.home, state)
        kafka.format_storage(self.home, state, properties)
        self._ensure("kafka", kafka.broker_command(self.home, properties), {"PATH": os.environ.get("PATH", "")})

        self.progress(f"Prometheus on 127.0.0.1:{state.ports.prometheus}")
        prom_config = prometheus.write_config(self.home, state)
        self._ensure("prometheus", prometheus.command(self.home, state, prom_config), {})

        self._wait("kafka", lambda: port_in_use(state.ports.kafka), 90)
        self._create_topics(state)
        services.ensure_sla_config(self.home)

        self.progress("services: " + ", ".join(SERVICES))
        code = services.code_identity()
        for service in SERVICES:
            env = services.environment(service, self.home, state, config)
            self._ensure(service, services.command(service), env, services.fingerprint(env, code))

        self.progress(f"gateway on https://127.0.0.1:{state.ports.gateway_https}")
        conf = nginx.render(self.home, state, cert, key)
        own_logs = (self.home.log_file("nginx-access"), self.home.log_file("nginx-error"))
        self._ensure("gateway", nginx.command(self.home, conf), {"PATH": os.environ.get("PATH", "")}, own_logs=own_logs)

        self._wait_healthy(state, timeout)
        self.progress(f"all healthy in {time.monotonic() - started:.1f}s")
        return self.status()

    def _check_ports(self, state: State) -> None:
        if self.anything_running():
            return  # ours; `up` again only fills in what is missing
        busy = [f"{name} ({port})" for name, port in state.ports.all().items() if port_in_use(port)]
        if busy:
            raise FlightctlError(
                "ports already in use: "
                + ", ".join(busy)
                + "; choose another range with --port-base or FLIGHTCTL_PORT_BASE"
            )

    def _ensure(
        self,
        name: str,
        command: list[str],
        env: Mapping[str, str],
        fingerprint: str = "",
        own_logs: Sequence[Path] = (),
    ) -> None:
        """Start ``name`` under its supervisor (:mod:`flightctl.local.supervisor`) unless it runs
        already with the same ``fingerprint``."""
        fingerprint = f"{fingerprint}/{SUPERVISED}"
        running = proc.find(self.home.run, name)
        if running is not None:
            if running.fingerprint == fingerprint:
                return
            self.progress(f"{name}: its configuration or code changed, restarting")
            self._stop(name)
        max_bytes, files = self._rotation
        log = self.home.log_file(name)
        wrapped = [
            sys.executable,
            "-m",
            "flightctl.local.supervisor",
            "--name",
            name,
            "--log",
            str(log),
            "--status",
            str(self._supervisor_status(name)),
            "--log-max-bytes",
            str(max_bytes),
            "--log-files",
            str(files),
            *[argument for path in own_logs for argument in ("--rotate", str(path))],
            *(["--reopen-signal", "SIGUSR1"] if own_logs else []),
            "--",
            *command,
        ]
        self._supervisor_status(name).parent.mkdir(parents=True, exist_ok=True)
        self._supervisor_status(name).unlink(missing_ok=True)
        match = f"flightctl.local.supervisor --name {name} --log {log}"
        proc.spawn(self.home.run, self.home.log_file("supervisor"), name, wrapped, env, fingerprint, match=match)
        self._started.append(name)

    def _supervisor_status(self, name: str) -> Path:
        return supervisor_status_file(self.home, name)

    def supervision(self, name: str) -> dict[str, Any] | None:
        """What ``name``'s supervisor reports (restarts, last exit, state), while it runs."""
        if proc.find(self.home.run, name) is None:
            return None
        return supervisor.read_status(self._supervisor_status(name))

    def _crashed(self, name: str) -> str | None:
        """Why ``name`` is no longer up, when it is not: gone, or its process exited (and is
        being restarted) since this `up` started it."""
        if proc.find(self.home.run, name) is None:
            return "exited during start"
        report = self.supervision(name) if name in self._started else None
        if report and report.get("restarts"):
            self._stop(name)
            return f"exited during start ({report.get('last_exit')})"
        return None

    def _stop(self, name: str, timeout: float = 20.0) -> bool:
        sig = signal.SIGQUIT if name == "gateway" else signal.SIGTERM
        stopped = proc.stop(self.home.run, name, timeout=timeout, sig=sig)
        self._supervisor_status(name).unlink(missing_ok=True)
        return stopped

    def _create_topics(self, state: State) -> None:
        from flightctl.services.common.kafka import ensure_topics

        deadline = time.monotonic() + 60
        while True:
            try:
                ensure_topics(f"127.0.0.1:{state.ports.kafka}")
                return
            except Exception as exc:  # the broker may still be electing itself controller
                if time.monotonic() > deadline:
                    raise FlightctlError(f"Kafka topics could not be created: {exc}") from None
                time.sleep(1)

    def _wait(self, name: str, condition: Callable[[], bool], timeout: float) -> None:
        crashed: list[str] = []

        def ready_or_crashed() -> bool:
            why = self._crashed(name)
            if why:
                crashed.append(why)
            return bool(why) or condition()

        if not proc.wait_until(ready_or_crashed, timeout, 0.2):
            self._failed(name, f"did not become ready within {timeout:.0f}s")
        if crashed:
            self._failed(name, crashed[0])

    def _failed(self, name: str, why: str) -> None:
        log = self.home.log_file(name)
        raise FlightctlError(f"{name} {why}; last lines of {log}:\n{proc.tail(log)}")

    def _wait_healthy(self, state: State, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for service in sorted(pending):
                    why = self._crashed(service)
                    if why:
                        self._failed(service, why)
                    if _healthy(client, state.ports.http(service)):
                        pending.discard(service)
                        self.progress(f"{service} healthy")
                if not pending:
                    break
                if time.monotonic() > deadline:
                    name = sorted(pending)[0]
                    self._failed(
                        name, f"not healthy after {timeout:.0f}s (still waiting for: {', '.join(sorted(pending))})"
                    )
                time.sleep(0.25)
        if not proc.wait_until(lambda: port_in_use(state.ports.gateway_https), 15):
            self._failed("gateway", "is not listening")
        if not proc.wait_until(lambda: port_in_use(state.ports.prometheus), 30):
            self._failed("prometheus", "is not listening")

    # -- down -------------------------------------------------------------------------------
    def down(self, purge: bool = False, components: Sequence[str] = ()) -> list[str]:
        """Stop every process by pid (data kept unless ``purge``), or only ``components``."""
        if self.dry_run:
            raise UsageError("--dry-run applies to the kind cluster only")
        if components:
            return self._stop_components(components)
        stopped = []
        for name in ("gateway", *reversed(SERVICES)):
            if self._stop(name):
                stopped.append(name)
                self.progress(f"stopped {name}")
        for name in ("prometheus", "kafka"):
            if self._stop(name, timeout=30):
                stopped.append(name)
                self.progress(f"stopped {name}")
        if postgres.stop(self.home):
            stopped.append("postgres")
            self.progress("stopped postgres")
        if purge:
            for sub in ("postgres", "kafka", "prometheus", "nginx", "logs", "run", "sla", "certs"):
                shutil.rmtree(self.home.path(sub), ignore_errors=True)
            self.home.state_file.unlink(missing_ok=True)
            self.progress(f"purged {self.home.root}")
        return stopped

    def _stop_components(self, names: Sequence[str]) -> list[str]:
        """Stop single components (`flightctl down --local data-collector`); `up` starts them again."""
        known = ("gateway", *SERVICES, "prometheus", "kafka", "postgres")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"unknown component {', '.join(unknown)}; choose from {', '.join(known)}")
        stopped = []
        for name in names:
            if postgres.stop(self.home) if name == "postgres" else self._stop(name, timeout=30):
                stopped.append(name)
                self.progress(f"stopped {name}")
        return stopped

    # -- status, logs, endpoints -------------------------------------------------------------
    def _existing_state(self) -> State:
        state = self.home.load_state()
        if state is None:
            raise FlightctlError(f"no local platform in {self.home.root}; start it with `flightctl up --local`")
        return state

    def status(self) -> dict[str, Any]:
        ports = self._existing_state().ports
        with httpx.Client(timeout=2.0) as client, ThreadPoolExecutor(max_workers=5) as pool:
            health = dict(zip(SERVICES, pool.map(lambda s: _healthy(client, ports.http(s)), SERVICES), strict=True))
        return {
            "mode": "local",
            "home": str(self.home.root),
            "gateway": f"https://127.0.0.1:{ports.gateway_https}",
            "gateway_http": f"http://127.0.0.1:{ports.gateway_http}",
            "prometheus": f"http://127.0.0.1:{ports.prometheus}",
            "kafka": f"127.0.0.1:{ports.kafka}",
            "postgres": f"127.0.0.1:{ports.postgres}",
            "services": {
                s: {
                    "url": f"http://127.0.0.1:{ports.http(s)}",
                    "healthy": health[s],
                    "running": proc.find(self.home.run, s) is not None,
                    **_restarts(self.supervision(s)),
                    **({"grpc": f"127.0.0.1:{ports.grpc(s)}"} if s in GRPC_SERVICES else {}),
                }
                for s in SERVICES
            },
            "infrastructure": {
                "postgres": postgres.running(self.home),
                **{name: proc.find(self.home.run, name) is not None for name in INFRA},
            },
            "supervision": {name: _restarts(self.supervision(name)) for name in INFRA},
        }

    def logs(self, component: str, lines: int, follow: bool, out: Callable[[str], None]) -> None:
        if component not in LOG_NAMES:
            raise UsageError(f"unknown component {component}; choose from {', '.join(LOG_NAMES)}")
        path = self.home.log_file(LOG_NAMES[component])
        if not path.exists():
            raise FlightctlError(f"no log for {component} yet in {self.home.logs}; is the platform up?")
        out(proc.tail(path, lines) + "\n")
        if follow:
            proc.follow(["tail", "-n", "0", "-F", str(path)])

    def database_server(self) -> LocalServer:
        """This platform's PostgreSQL, for `flightctl backup` and `restore`."""
        from flightctl.local.backup import LocalServer

        return LocalServer(self._existing_state())

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self._existing_state().ports.http(service)}"

    def api_token(self) -> tuple[str, str] | None:
        state = self.home.load_state()
        return (state.api_token, "state.json") if state is not None else None

    def certificate(self) -> Path | None:
        path = self.home.path(*CERT_FILE)
        return path if path.is_file() else None

    def component_versions(self) -> dict[str, dict[str, Any]]:
        from flightctl.versions import local_components

        return local_components()


def supervisor_status_file(home: Home, name: str) -> Path:
    """Where ``name``'s supervisor writes its status (``--status``)."""
    return home.run / "supervisor" / f"{name}.json"


def component_pid(home: Home, name: str) -> int | None:
    """The pid of the process that does ``name``'s work: the child its supervisor runs (the
    pid `up` records is the supervisor's, a small process of its own), or None while it is not
    running. What the load test's and the benchmarks' memory and CPU figures read."""
    running = proc.find(home.run, name)
    if running is None:
        return None
    report = supervisor.read_status(supervisor_status_file(home, name)) or {}
    child = report.get("child_pid")
    return int(child) if isinstance(child, int) and report.get("pid") == running.pid else None


def _restarts(report: dict[str, Any] | None) -> dict[str, Any]:
    """A supervisor's report as `status` shows it: restarts, the last exit's reason, and the
    seconds until the next start while it backs off."""
    report = report or {}
    shown: dict[str, Any] = {"restarts": int(report.get("restarts") or 0), "last_exit": report.get("last_exit")}
    if report.get("state") == "backoff" and report.get("next_start_at"):
        shown["restarting_in"] = round(max(0.0, float(report["next_start_at"]) - time.time()), 1)
    return shown


def _healthy(client: httpx.Client, port: int) -> bool:
    try:
        return client.get(f"http://127.0.0.1:{port}/health").status_code == 200
    except httpx.HTTPError:
        return False
