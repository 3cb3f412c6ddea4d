"""`flightctl up/down/status/logs` for the Kind cluster (SPEC section 2, kubernetes/README.md):
one implementation of flightctl.platform.interface.Platform.

Every external command goes through a Runner. With ``dry_run`` nothing runs and nothing is
written: each command is printed (stdout, one per line, in order) instead, with ``#`` lines
for what flightctl itself would do in between (write the secrets file, the certificate).
A dry run plans for a machine without the cluster.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flightctl import deploy
from flightctl.errors import FlightctlError, PrerequisiteMissing, UsageError
from flightctl.kind import endpoints, layout, portforward
from flightctl.kind import secrets as secret_values
from flightctl.kind.runner import Completed, Runner
from flightctl.platform import proc
from flightctl.platform.interface import KIND, KIND_UP_TIMEOUT
from flightctl.platform.layout import SERVICES, Home

INSTALL_HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "install kind v0.24 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, "
    "e.g. `go install sigs.k8s.io/kind@v0.29.0`)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
}
# In the order they are waited for: storage and broker first, then what depends on them.
WORKLOADS: tuple[tuple[str, str], ...] = (
    ("statefulset", "postgres"),
    ("statefulset", "kafka"),
    ("job", "kafka-topics"),
    ("deployment", "prometheus"),
    ("deployment", "gateway-errors"),
    *(("deployment", name) for name in SERVICES),
)
INGRESS_NAMESPACE = "ingress-nginx"


class KindPlatform:
    name = KIND
    required_tools = frozenset({"docker", "kind", "kubectl"})

    def __init__(
        self,
        home: Home,
        runner: Runner,
        progress: Callable[[str], None],
        *,
        dry_run: bool = False,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.home = home
        self.runner = runner
        self.progress = progress
        self.dry_run = dry_run
        self.echo = echo

    # ---- running commands ------------------------------------------------------------

    def _run(self, argv: Sequence[str], *, stream: bool = False, what: str | None = None) -> Completed:
        if self.dry_run:
            self.echo(shlex.join(argv))
            return Completed(0)
        result = self.runner.run(argv, stream=stream)
        if not result.ok and what is not None:
            raise FlightctlError(f"{what} failed: {shlex.join(argv)}{_reason(result)}")
        return result

    def _apply_generated(self, create: Sequence[str], what: str) -> None:
        """`create ... --dry-run=client -o yaml | kubectl apply -f -`: idempotent create."""
        apply = self._kubectl("apply", "-f", "-")
        if self.dry_run:
            self.echo(f"{shlex.join(create)} | {shlex.join(apply)}")
            return
        rendered = self.runner.run(create)
        if not rendered.ok:
            raise FlightctlError(f"{what} failed: {shlex.join(create)}{_reason(rendered)}")
        applied = self.runner.run(apply, input=rendered.stdout)
        if not applied.ok:
            raise FlightctlError(f"{what} failed: kubectl apply{_reason(applied)}")

    def _note(self, text: str) -> None:
        if self.dry_run:
            self.echo(f"# {text}")

    def _kubectl(self, *args: str, namespace: str | None = None) -> list[str]:
        return ["kubectl", "--context", layout.KUBE_CONTEXT, *(["-n", namespace] if namespace else []), *args]

    # ---- prerequisites and the cluster ---------------------------------------------------

    def check_prerequisites(self, programs: Sequence[str]) -> None:
        missing = [p for p in programs if self.runner.which(p) is None]
        if missing:
            hints = "; ".join(f"{p}: {INSTALL_HINTS[p]}" for p in missing)
            message = f"missing prerequisite{'s' if len(missing) > 1 else ''} {', '.join(missing)} ({hints})"
            if not self.dry_run:
                raise PrerequisiteMissing(message)
            self.progress(f"note: {message}")
        if "docker" in programs:
            info = self._run(["docker", "info", "--format", "{{.ServerVersion}}"])
            if not info.ok:
                raise PrerequisiteMissing(
                    f"docker is installed but its engine does not answer{_reason(info)}; start the Docker engine"
                )

    def cluster_exists(self) -> bool:
        result = self._run(["kind", "get", "clusters"], what="listing the kind clusters")
        return layout.CLUSTER in result.stdout.split()

    def _node_count(self) -> int:
        result = self._run(["kind", "get", "nodes", "--name", layout.CLUSTER], what="listing the cluster's nodes")
        return len(result.stdout.split())

    # ---- up ------------------------------------------------------------------------------

    def up(
        self,
        environ: Mapping[str, str],
        cwd: Path,
        port_base: int | None = None,
        timeout: float | None = None,
        *,
        multi_node: bool = False,
        ingress: bool = True,
    ) -> dict[str, Any] | None:
        """Create (or reuse) the cluster, build and load the images, apply the overlay and wait
        for every workload (``timeout`` seconds each, default 600); None for a dry run, which
        printed the commands instead. ``port_base`` is the local platform's: unused here."""
        timeout = timeout or KIND_UP_TIMEOUT
        self.check_prerequisites(("docker", "kind", "kubectl"))
        nodes = 3 if multi_node else 1
        reused = self.cluster_exists()
        if reused:
            have = self._node_count()
            if have != nodes:
                raise UsageError(
                    f"the kind cluster {layout.CLUSTER!r} exists with {have} node(s), not {nodes}; "
                    "remove it with `flightctl down --kind` first"
                )
            self.progress(f"reusing the kind cluster {layout.CLUSTER!r}")
        else:
            config = deploy.path("kubernetes", "kind", "cluster-multinode.yaml" if multi_node else "cluster.yaml")
            self.progress(f"creating the kind cluster {layout.CLUSTER!r} ({nodes} node{'s' if nodes > 1 else ''})")
            self._run(
                ["kind", "create", "cluster", "--name", layout.CLUSTER, "--config", str(config)],
                stream=True,
                what="creating the kind cluster",
            )

        context = self._build_context()
        for service in SERVICES:
            self.progress(f"building and loading {layout.image(service)}")
            self._run(
                ["docker", "build", "--target", service, "-t", layout.image(service), str(context)],
                stream=True,
                what=f"building the {service} image",
            )
            self._run(
                ["kind", "load", "docker-image", layout.image(service), "--name", layout.CLUSTER],
                stream=True,
                what=f"loading the {service} image into the cluster",
            )

        if ingress:
            self.progress("installing the ingress-nginx controller")
            self._run(
                self._kubectl("apply", "-k", str(deploy.path("kubernetes", "vendor", "ingress-nginx"))),
                what="applying the ingress-nginx controller",
            )
            # The admission webhook must answer before an Ingress can be created.
            self._wait("deployment", "ingress-nginx-controller", timeout, namespace=INGRESS_NAMESPACE)
            self._wait("job", "ingress-nginx-admission-patch", timeout, namespace=INGRESS_NAMESPACE)

        self._secrets(environ, cwd)
        overlay_name = "kind-multinode" if multi_node else "kind"
        overlay = deploy.path("kubernetes", "overlays", overlay_name)
        # The topic Job's pod template is immutable; it is idempotent, so run it anew.
        self._run(
            self._kubectl("delete", "job", "kafka-topics", "--ignore-not-found", namespace=layout.NAMESPACE),
            what="removing the previous topic Job",
        )
        self.progress(f"applying the {overlay_name} overlay")
        self._run(self._kubectl("apply", "-k", str(overlay)), what="applying the manifests")
        if reused:
            # Same image tags, new content: restart so that the pods run what was just built.
            self._run(
                self._kubectl(
                    "rollout",
                    "restart",
                    "deployment",
                    "--selector=app.kubernetes.io/component=service",
                    namespace=layout.NAMESPACE,
                ),
                what="restarting the services",
            )
        for kind, name in WORKLOADS:
            self._wait(kind, name, timeout, namespace=layout.NAMESPACE)
        if self.dry_run:
            return None
        self.progress("the platform is up")
        return self.status()

    def _build_context(self) -> Path:
        """The images are built from this installed flightctl (flightctl.deploy.images)."""
        context = layout.build_dir(self.home)
        if self.dry_run:
            self._note(
                f"write the image build context {context}: the Dockerfile, the wheel of this installed "
                "flightctl, its requirements and the installed versions as constraints"
            )
            return context
        from flightctl.deploy.images import write_context

        self.progress(f"writing the image build context {context} from this installation")
        return write_context(context)

    def _secrets(self, environ: Mapping[str, str], cwd: Path) -> None:
        path = layout.secrets_file(self.home)
        certs = layout.certs_dir(self.home)
        cert, key = certs / "gateway.crt", certs / "gateway.key"
        if self.dry_run:
            self._note(
                f"write {path} (mode 0600): API token and database passwords from the environment, ./.env, "
                "the previous run, or generated"
            )
            self._note(f"create the gateway certificate {cert} and key {key} if missing or expiring")
        else:
            from flightctl.platform.certs import make_self_signed

            secret_values.write(path, secret_values.resolve(environ, cwd, secret_values.read(path)))
            cert, key = make_self_signed(certs)
        tuning = secret_values.settings(environ, cwd)
        settings_path = layout.settings_file(self.home)
        if self.dry_run:
            self._note(f"write {settings_path}: the services' settings set in the environment or ./.env")
        else:
            secret_values.write(settings_path, tuning)
        self.progress("creating the namespace and the Secrets")
        self._apply_generated(
            self._kubectl("create", "namespace", layout.NAMESPACE, "--dry-run=client", "-o", "yaml"),
            "creating the namespace",
        )
        self._apply_generated(
            self._kubectl(
                "create",
                "secret",
                "generic",
                "flightctl-secrets",
                f"--from-env-file={path}",
                "--dry-run=client",
                "-o",
                "yaml",
                namespace=layout.NAMESPACE,
            ),
            "creating the Secret flightctl-secrets",
        )
        self._apply_generated(
            self._kubectl(
                "create",
                "secret",
                "tls",
                "flightctl-tls",
                f"--cert={cert}",
                f"--key={key}",
                "--dry-run=client",
                "-o",
                "yaml",
                namespace=layout.NAMESPACE,
            ),
            "creating the Secret flightctl-tls",
        )
        # Every service reads the ConfigMap flightctl-settings (envFrom, optional); with nothing
        # set it is removed, so a setting taken out of .env does not linger in the cluster.
        if tuning or self.dry_run:
            self._apply_generated(
                self._kubectl(
                    "create",
                    "configmap",
                    "flightctl-settings",
                    f"--from-env-file={settings_path}",
                    "--dry-run=client",
                    "-o",
                    "yaml",
                    namespace=layout.NAMESPACE,
                ),
                "creating the ConfigMap flightctl-settings",
            )
        else:
            self._run(
                self._kubectl(
                    "delete", "configmap", "flightctl-settings", "--ignore-not-found", namespace=layout.NAMESPACE
                ),
                what="removing the ConfigMap flightctl-settings",
            )

    def _wait(self, kind: str, name: str, timeout: float, *, namespace: str) -> None:
        seconds = f"--timeout={int(timeout)}s"
        if kind == "job":
            argv = self._kubectl("wait", "--for=condition=complete", f"job/{name}", seconds, namespace=namespace)
        else:
            argv = self._kubectl("rollout", "status", f"{kind}/{name}", seconds, namespace=namespace)
        self.progress(f"waiting for {kind}/{name}")
        if self._run(argv, stream=True).ok:
            return
        raise FlightctlError(
            f"{kind}/{name} did not become ready within {int(timeout)}s: {self.diagnose(kind, name, namespace)}"
        )

    def diagnose(self, kind: str, name: str, namespace: str) -> str:
        """Why a workload's pods are not ready, from `kubectl get pods -o json`."""
        selector = {
            "ingress-nginx-controller": "app.kubernetes.io/component=controller",
            "ingress-nginx-admission-patch": "batch.kubernetes.io/job-name=ingress-nginx-admission-patch",
        }.get(name, f"app={name}")
        result = self.runner.run(self._kubectl("get", "pods", "-l", selector, "-o", "json", namespace=namespace))
        if not result.ok:
            return f"its pods could not be listed{_reason(result)}"
        try:
            pods = json.loads(result.stdout).get("items", [])
        except ValueError:
            return "its pods could not be listed (kubectl answered no JSON)"
        if not pods:
            return f"no pod was created (see `kubectl -n {namespace} describe {kind}/{name}`)"
        reasons = [reason for pod in pods for reason in _pod_reasons(pod)]
        return "; ".join(reasons) if reasons else "its pods are running but not ready (see their logs)"

    # ---- down and status -------------------------------------------------------------------

    def down(self, purge: bool = False, components: Sequence[str] = ()) -> list[str] | None:
        """Stop the port-forwards and delete the cluster (its volumes go with it); ``purge``
        also removes what flightctl keeps for it under $FLIGHTCTL_HOME/kind. None for a dry run."""
        if components:
            raise UsageError("the kind cluster is deleted as a whole; scale a workload with kubectl instead")
        self.check_prerequisites(("kind",))
        stopped = [f"port-forward {name}" for name in portforward.stop_all(self.home, self.dry_run, self.echo)]
        if self.cluster_exists() or self.dry_run:
            self.progress(f"deleting the kind cluster {layout.CLUSTER!r}")
            self._run(["kind", "delete", "cluster", "--name", layout.CLUSTER], stream=True, what="deleting the cluster")
            stopped.append(f"kind cluster {layout.CLUSTER}")
        if purge:
            self._note(f"remove {layout.kind_dir(self.home)}")
            if not self.dry_run:
                shutil.rmtree(layout.kind_dir(self.home), ignore_errors=True)
        return None if self.dry_run else stopped

    def status(self) -> dict[str, Any]:
        self.check_prerequisites(("kubectl",))
        result = self.runner.run(
            self._kubectl("get", "deployments,statefulsets", "-o", "json", namespace=layout.NAMESPACE)
        )
        if not result.ok:
            raise FlightctlError(
                f"the kind cluster {layout.CLUSTER!r} does not answer{_reason(result)}; "
                "start it with `flightctl up --kind`"
            )
        ready = {
            item["metadata"]["name"]: int(item.get("status", {}).get("readyReplicas") or 0)
            >= int(item.get("spec", {}).get("replicas", 1))
            > 0
            for item in json.loads(result.stdout).get("items", [])
        }
        services: dict[str, dict[str, Any]] = {}
        for name in SERVICES:
            forward = portforward.active(self.home, name)
            url = f"http://127.0.0.1:{forward.port}" if forward else None
            gateway = None if name == "alert-system" else endpoints.service_url(self.home, name)
            services[name] = {"url": url or gateway, "gateway_url": gateway, "healthy": ready.get(name, False)}
        prometheus = portforward.active(self.home, "prometheus")
        return {
            "mode": "kind",
            "cluster": layout.CLUSTER,
            "gateway": "https://127.0.0.1",
            "gateway_http": "http://127.0.0.1",
            "prometheus": f"http://127.0.0.1:{prometheus.port}" if prometheus else None,
            "kafka": f"kafka.{layout.NAMESPACE}.svc:9092 (inside the cluster)",
            "postgres": f"postgres.{layout.NAMESPACE}.svc:5432 (inside the cluster)",
            "services": services,
            "workloads": ready,
        }

    def logs(self, component: str, lines: int, follow: bool, out: Callable[[str], None]) -> None:
        """The workload's pods' log through `kubectl logs`."""
        if component not in layout.FORWARDABLE:
            raise UsageError(f"unknown workload {component}; choose from {', '.join(layout.FORWARDABLE)}")
        command = self._kubectl(
            "logs", f"deployment/{component}", "--all-containers", f"--tail={lines}", namespace=layout.NAMESPACE
        )
        if follow:
            proc.follow([*command, "-f"])
            return
        result = self.runner.run(command)
        if not result.ok:
            raise FlightctlError(f"kubectl logs failed: {(result.stderr or result.stdout).strip()[:300]}")
        out(result.stdout)

    def service_url(self, service: str) -> str:
        return endpoints.service_url(self.home, service)

    def api_token(self) -> tuple[str, str] | None:
        token = endpoints.api_token(self.home)
        return (token, "the kind cluster's secret") if token else None

    def certificate(self) -> Path | None:
        return endpoints.certificate(self.home)

    def component_versions(self) -> dict[str, dict[str, Any]]:
        from flightctl.versions import cluster_components

        return cluster_components()


def _reason(result: Completed) -> str:
    text = (result.stderr or result.stdout or "").strip().splitlines()
    return f": {text[-1]}" if text else f" (exit {result.returncode})"


def _pod_reasons(pod: dict[str, Any]) -> list[str]:
    name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status", {})
    reasons = []
    for condition in status.get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reasons.append(f"pod {name} is not scheduled: {condition.get('reason')} ({condition.get('message', '')})")
    for container in [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]:
        state = container.get("state", {})
        where = f"pod {name} container {container.get('name')}"
        if "waiting" in state:
            waiting = state["waiting"]
            text = f"{where}: {waiting.get('reason', 'waiting')}"
            if waiting.get("message"):
                text += f" ({waiting['message']})"
            last = container.get("lastState", {}).get("terminated")
            if last:
                text += f", last exit {last.get('exitCode')} ({last.get('reason', '')})"
            reasons.append(text)
        elif "terminated" in state and state["terminated"].get("exitCode", 0) != 0:
            terminated = state["terminated"]
            reasons.append(f"{where}: exited {terminated.get('exitCode')} ({terminated.get('reason', '')})")
        elif "running" in state and not container.get("ready", False):
            reasons.append(f"{where}: running but not ready (restarts: {container.get('restartCount', 0)})")
    return reasons
