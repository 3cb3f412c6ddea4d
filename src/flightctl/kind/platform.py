"""`flightctl up/down/status/logs` on a cluster (kubernetes/README.md): one implementation of
flightctl.platform.interface.Platform for both cluster contexts, told apart by its
:class:`~flightctl.kind.target.Target`:

- ``kind``: the Kind cluster flightctl creates (and deletes on `down`);
- ``cluster``: an existing cluster (a kube context) flightctl deploys into, and on `down`
  removes its namespace from, never the cluster.

Both get the same images (built from this installed flightctl), Secrets, certificate, settings
ConfigMap, manifests and rollout waits; they differ in how the cluster comes to be and how the
images reach its nodes (kind load, a containerd import, a registry push).

Every external command goes through a Runner. With ``dry_run`` nothing runs and nothing is
written: each command is printed (stdout, one per line, in order) instead, with ``#`` lines
for what flightctl itself would do in between (write the secrets file, the certificate).
A dry run plans for a target where nothing of flightctl exists yet.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightctl import deploy
from flightctl.errors import FlightctlError, PrerequisiteMissing, UsageError
from flightctl.kind import endpoints, layout, portforward
from flightctl.kind import secrets as secret_values
from flightctl.kind.runner import Completed, Runner
from flightctl.kind.target import Target
from flightctl.platform import proc
from flightctl.platform.interface import KIND_UP_TIMEOUT
from flightctl.platform.layout import SERVICES, Home, port_in_use

if TYPE_CHECKING:
    from flightctl.kind.backup import PodServer

FLIGHTCTL_DOCKER = "FLIGHTCTL_DOCKER"
FLIGHTCTL_PYTHON_IMAGE = "FLIGHTCTL_PYTHON_IMAGE"
INSTALL_HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "install kind v0.24 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, "
    "e.g. `go install sigs.k8s.io/kind@v0.29.0`)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "ctr": "install containerd's ctr (apt-get install -y containerd) on the machine that is the cluster's node",
}
# In the order they are waited for: storage and broker first, then what depends on them.
WORKLOADS: tuple[tuple[str, str], ...] = (
    ("statefulset", "postgres"),
    ("statefulset", "kafka"),
    ("job", "kafka-topics"),
    ("deployment", "prometheus"),
    ("deployment", layout.GATEWAY),
    *(("deployment", name) for name in SERVICES),
)
INGRESS_NAMESPACE = "ingress-nginx"
KIND_HTTPS_NODE_PORT = 30443  # overlays/kind's gateway NodePort, published as 127.0.0.1:443 (kind/cluster*.yaml)
# docker build needs BuildKit (RUN --mount in the Dockerfile): with buildx installed `docker
# build` is BuildKit already; a docker CLI older than 23 without buildx has it built in and
# uses it when DOCKER_BUILDKIT=1. flightctl sets it for every build it runs.
BUILDKIT_ENV = ("env", "DOCKER_BUILDKIT=1")
DIGEST_PLACEHOLDER = "sha256:<digest of the pushed image>"


@dataclass(frozen=True)
class BuildOptions:
    """How `up` builds the images: the base image (the Dockerfile's PYTHON_IMAGE), the
    wheelhouse the dependencies come from (None: $FLIGHTCTL_WHEELHOUSE, else
    ~/.cache/flightctl/wheelhouse) and the docker CLI ($FLIGHTCTL_DOCKER, else docker)."""

    python_image: str | None = None
    wheelhouse: Path | None = None
    docker: str = "docker"

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, python_image: str | None = None, wheelhouse: Path | None = None
    ) -> BuildOptions:
        return cls(
            python_image=python_image or environ.get(FLIGHTCTL_PYTHON_IMAGE) or None,
            wheelhouse=wheelhouse,
            docker=environ.get(FLIGHTCTL_DOCKER) or "docker",
        )


class ClusterPlatform:
    def __init__(
        self,
        home: Home,
        runner: Runner,
        progress: Callable[[str], None],
        *,
        target: Target | None = None,
        build: BuildOptions | None = None,
        dry_run: bool = False,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.home = home
        self.runner = runner
        self.progress = progress
        self.target = target or Target.kind()
        self.build = build or BuildOptions()
        self.dry_run = dry_run
        self.echo = echo
        self.name = self.target.context

    @property
    def required_tools(self) -> frozenset[str]:
        """The `flightctl doctor` checks this target cannot do without."""
        tools = {"docker", "buildkit", "kubectl"}
        if self.target.owned or self.target.image_load == "kind":
            tools.add("kind")
        if self.target.image_load == "containerd":
            tools |= {"ctr", "containerd"}
        if not self.target.owned:
            tools.add("cluster")
        return frozenset(tools)

    # ---- running commands ------------------------------------------------------------

    def _run(self, argv: Sequence[str], *, stream: bool = False, what: str | None = None) -> Completed:
        if self.dry_run:
            self.echo(shlex.join(argv))
            return Completed(0)
        result = self.runner.run(argv, stream=stream)
        if not result.ok and what is not None:
            raise FlightctlError(f"{what} failed: {shlex.join(argv)}{_reason(result)}")
        return result

    def _pipe(self, producer: Sequence[str], consumer: Sequence[str], *, what: str) -> None:
        if self.dry_run:
            self.echo(f"{shlex.join(producer)} | {shlex.join(consumer)}")
            return
        result = self.runner.pipe(producer, consumer, stream=True)
        if not result.ok:
            raise FlightctlError(f"{what} failed: {shlex.join(producer)} | {shlex.join(consumer)}{_reason(result)}")

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

    def database_server(self) -> PodServer:
        """The cluster's PostgreSQL pod, for `flightctl backup` and `restore`."""
        from flightctl.kind.backup import PodServer

        self.check_prerequisites(("kubectl",))
        return PodServer(self.name, self.runner, self._kubectl, layout.NAMESPACE)

    def _note(self, text: str) -> None:
        if self.dry_run:
            self.echo(f"# {text}")

    def _kubectl(self, *args: str, namespace: str | None = None) -> list[str]:
        return self.target.kubectl(*args, namespace=namespace)

    def _docker(self, *args: str) -> list[str]:
        return [self.build.docker, *args]

    # ---- prerequisites and the cluster ---------------------------------------------------

    def check_prerequisites(self, programs: Sequence[str]) -> None:
        missing = [p for p in programs if self.runner.which(self.build.docker if p == "docker" else p) is None]
        if missing:
            hints = "; ".join(f"{p}: {INSTALL_HINTS[p]}" for p in missing)
            message = f"missing prerequisite{'s' if len(missing) > 1 else ''} {', '.join(missing)} ({hints})"
            if not self.dry_run:
                raise PrerequisiteMissing(message)
            self.progress(f"note: {message}")
        if "docker" in programs:
            info = self._run(self._docker("info", "--format", "{{.ServerVersion}}"))
            if not info.ok:
                raise PrerequisiteMissing(
                    f"docker is installed but its engine does not answer{_reason(info)}; start the Docker engine"
                )
            ok, found = buildkit(self.runner if not self.dry_run else _Planned(self), self.build.docker)
            if not ok:
                raise PrerequisiteMissing(found)

    def cluster_exists(self) -> bool:
        result = self._run(["kind", "get", "clusters"], what="listing the kind clusters")
        return layout.CLUSTER in result.stdout.split()

    def _node_count(self) -> int:
        result = self._run(["kind", "get", "nodes", "--name", layout.CLUSTER], what="listing the cluster's nodes")
        return len(result.stdout.split())

    def _kind_cluster(self, multi_node: bool) -> bool:
        """Create the Kind cluster, or reuse it when it has the shape asked for; True when reused."""
        nodes = 3 if multi_node else 1
        if self.cluster_exists():
            have = self._node_count()
            if have != nodes:
                raise UsageError(
                    f"the kind cluster {layout.CLUSTER!r} exists with {have} node(s), not {nodes}; "
                    "remove it with `flightctl down --kind` first"
                )
            # The gateway's NodePort must be published (a cluster made by an older flightctl
            # published the ingress controller's ports instead).
            published = self._run(
                self._docker("port", f"{layout.CLUSTER}-control-plane", f"{KIND_HTTPS_NODE_PORT}/tcp")
            )
            if not published.ok:
                raise UsageError(
                    f"the kind cluster {layout.CLUSTER!r} does not publish the gateway's port {KIND_HTTPS_NODE_PORT} "
                    "(it was created by an older flightctl); recreate it: `flightctl down --kind`, then `up` again"
                )
            self.progress(f"reusing the kind cluster {layout.CLUSTER!r}")
            return True
        config = deploy.path("kubernetes", "kind", "cluster-multinode.yaml" if multi_node else "cluster.yaml")
        self.progress(f"creating the kind cluster {layout.CLUSTER!r} ({nodes} node{'s' if nodes > 1 else ''})")
        self._run(
            ["kind", "create", "cluster", "--name", layout.CLUSTER, "--config", str(config)],
            stream=True,
            what="creating the kind cluster",
        )
        return False

    def _existing_cluster(self) -> bool:
        """The existing cluster answers; True when flightctl's namespace is there already."""
        self.progress(f"deploying to {self.target.describe()}")
        answer = self._run(self._kubectl("get", "namespaces", "-o", "name"))
        if not answer.ok:
            raise FlightctlError(
                f"{self.target.describe()} does not answer{_reason(answer)}; check --kube-context/--kubeconfig "
                "(kubectl config get-contexts)"
            )
        if self.target.image_load == "containerd":
            nodes = self._run(self._kubectl("get", "nodes", "-o", "name"), what="listing the cluster's nodes")
            count = len(nodes.stdout.split())
            if count > 1:
                raise UsageError(
                    f"--image-load containerd imports into this machine's containerd, which reaches one node; "
                    f"{self.target.describe()} has {count}: use --registry HOST/PREFIX"
                )
        return f"namespace/{layout.NAMESPACE}" in answer.stdout.split()

    # ---- up ------------------------------------------------------------------------------

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
        """Create or reuse the Kind cluster (or check the existing one), build the images and
        deliver them, apply the manifests and wait for every workload (``timeout`` seconds
        each, default 600); on an existing cluster, forward the gateway to this machine. None
        for a dry run, which printed the commands instead. ``port_base`` is the local
        platform's: unused here. ``ingress``: an Ingress in front of the gateway
        (components/ingress-nginx; on Kind with the vendored controller)."""
        timeout = timeout or KIND_UP_TIMEOUT
        if multi_node and not self.target.owned:
            raise UsageError("--multi-node is the Kind cluster's shape; an existing cluster keeps the nodes it has")
        tools = ["docker", "kubectl"]
        if self.target.owned or self.target.image_load == "kind":
            tools.insert(1, "kind")
        if self.target.image_load == "containerd":
            tools.append("ctr")
        self.check_prerequisites(tools)
        reused = self._kind_cluster(multi_node) if self.target.owned else self._existing_cluster()

        self._build_images(environ)
        images = self._deliver_images()

        if ingress and self.target.owned:
            self.progress("installing the ingress-nginx controller")
            self._run(
                self._kubectl("apply", "-k", str(deploy.path("kubernetes", "vendor", "ingress-nginx"))),
                what="applying the ingress-nginx controller",
            )
            # The admission webhook must answer before an Ingress can be created.
            self._wait("deployment", "ingress-nginx-controller", timeout, namespace=INGRESS_NAMESPACE)
            self._wait("job", "ingress-nginx-admission-patch", timeout, namespace=INGRESS_NAMESPACE)

        certificate_changed = self._secrets(environ, cwd, reused)
        manifests = self._manifests(multi_node, ingress, images)
        # The topic Job's pod template is immutable; it is idempotent, so run it anew.
        self._run(
            self._kubectl("delete", "job", "kafka-topics", "--ignore-not-found", namespace=layout.NAMESPACE),
            what="removing the previous topic Job",
        )
        self.progress(f"applying {manifests}")
        self._run(self._kubectl("apply", "-k", str(manifests)), what="applying the manifests")
        if reused and images is None:
            # Same image tags, new content: restart so that the pods run what was just loaded.
            # (Pushed images are named by digest: a new image is a new pod template.)
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
        if reused and certificate_changed:
            # NGINX reads its certificate at start.
            self._run(
                self._kubectl("rollout", "restart", f"deployment/{layout.GATEWAY}", namespace=layout.NAMESPACE),
                what="restarting the gateway",
            )
        for kind, name in WORKLOADS:
            self._wait(kind, name, timeout, namespace=layout.NAMESPACE)
        if not self.target.owned:
            self._forward_gateway()
        if self.dry_run:
            return None
        self.progress("the platform is up")
        return self.status()

    # ---- images --------------------------------------------------------------------------

    def _build_images(self, environ: Mapping[str, str]) -> None:
        """Write the build context from this installed flightctl (flightctl.deploy.images),
        with the wheels of its pinned dependencies from the wheelhouse (fetched there first,
        on this machine, when some are missing), then build one image per service. The
        context has everything the build installs, so it runs with --network=none."""
        from flightctl.deploy import images

        wheelhouse = self.build.wheelhouse or images.default_wheelhouse(environ)
        missing = images.missing_wheels(wheelhouse)
        if missing:
            self.progress(
                f"the wheelhouse {wheelhouse} lacks {len(missing)} wheel(s) for the image; downloading them with pip"
            )
            self._run(
                images.download_command(wheelhouse, missing),
                stream=True,
                what=f"downloading the image's wheels into {wheelhouse}",
            )
        context = layout.build_dir(self.home, self.target)
        if self.dry_run:
            self._note(
                f"write the image build context {context}: the Dockerfile, the wheel of this installed "
                f"flightctl, its requirements, the installed versions as constraints, and their wheels "
                f"from {wheelhouse} in wheels/"
            )
        else:
            self.progress(f"writing the image build context {context} from this installation")
            images.write_context(context, wheelhouse)
        build_args = ["--build-arg", f"PYTHON_IMAGE={self.build.python_image}"] if self.build.python_image else []
        for service in SERVICES:
            self.progress(f"building {layout.image(service)}")
            self._run(
                [
                    *BUILDKIT_ENV,
                    *self._docker(
                        "build", "--network=none", "--target", service, "-t", layout.image(service), *build_args
                    ),
                    str(context),
                ],
                stream=True,
                what=f"building the {service} image",
            )

    def _deliver_images(self) -> dict[str, str] | None:
        """Put the five images where the cluster's nodes find them. For a registry, the pushed
        images by digest (service -> REGISTRY/service@sha256:...), which the manifests are
        rewritten to; else None (the names stay flightctl/<service>:dev)."""
        local = [layout.image(service) for service in SERVICES]
        method = self.target.image_load
        if method == "kind":
            self.progress(f"loading the images into the kind cluster {self.target.kind_cluster!r}")
            self._run(
                ["kind", "load", "docker-image", *local, "--name", str(self.target.kind_cluster)],
                stream=True,
                what="loading the images into the kind cluster",
            )
            return None
        if method == "containerd":
            self.progress("importing the images into this machine's containerd (namespace k8s.io)")
            address = ["--address", self.target.containerd_address] if self.target.containerd_address else []
            self._pipe(
                self._docker("save", *local),
                ["ctr", *address, "--namespace", "k8s.io", "images", "import", "-"],
                what="importing the images into containerd",
            )
            return None
        pushed: dict[str, str] = {}
        for service in SERVICES:
            remote = f"{self.target.registry}/{service}"
            self.progress(f"pushing {remote}:{layout.IMAGE_TAG}")
            self._run(
                self._docker("tag", layout.image(service), f"{remote}:{layout.IMAGE_TAG}"),
                what=f"tagging the {service} image",
            )
            self._run(
                self._docker("push", f"{remote}:{layout.IMAGE_TAG}"), stream=True, what=f"pushing the {service} image"
            )
            inspected = self._run(
                self._docker("image", "inspect", "--format", "{{json .RepoDigests}}", f"{remote}:{layout.IMAGE_TAG}"),
                what=f"reading the digest of the pushed {service} image",
            )
            pushed[service] = f"{remote}@{DIGEST_PLACEHOLDER}" if self.dry_run else _digest(inspected.stdout, remote)
        return pushed

    # ---- manifests -----------------------------------------------------------------------

    def _manifests(self, multi_node: bool, ingress: bool, images: dict[str, str] | None) -> Path:
        """The kustomization to apply: a shipped overlay as it is, or one flightctl writes on
        top of it (in <target state>/kustomize/) for what it adds: the ingress component, the
        pushed images' names."""
        if self.target.owned:
            shipped = deploy.path("kubernetes", "overlays", "kind-multinode" if multi_node else "kind")
        elif images is not None:
            shipped = deploy.path("kubernetes", "base")  # pulled: no imagePullPolicy Never
        else:
            shipped = deploy.path("kubernetes", "overlays", "cluster")
        if not ingress and images is None:
            return shipped
        directory = layout.kustomize_dir(self.home, self.target)
        lines = [
            "# Written by `flightctl up`: the shipped manifests, plus what this target adds.",
            "apiVersion: kustomize.config.k8s.io/v1beta1",
            "kind: Kustomization",
            "resources:",
            f"  - {os.path.relpath(shipped, directory)}",  # kustomize accepts relative paths only
        ]
        if ingress:
            component = deploy.path("kubernetes", "components", "ingress-nginx")
            lines += ["components:", f"  - {os.path.relpath(component, directory)}"]
        if images is not None:
            lines.append("images:")
            for service, pushed in images.items():
                name, _, digest = pushed.partition("@")
                lines += [
                    f"  - name: flightctl/{service}",
                    f"    newName: {name}",
                    f'    digest: "{digest}"',
                ]
        text = "\n".join(lines) + "\n"
        if self.dry_run:
            self._note(f"write {directory / 'kustomization.yaml'}:")
            for line in text.splitlines():
                self._note(f"  {line}")
        else:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "kustomization.yaml").write_text(text)
        return directory

    def _secrets(self, environ: Mapping[str, str], cwd: Path, reused: bool = False) -> bool:
        """The namespace, the Secrets and the settings ConfigMap; True when the gateway's
        certificate is not the one the gateway runs with (it then restarts).

        On a platform already deployed (``reused``) its own values are kept: the Secret's
        values come before what this FLIGHTCTL_HOME stored (PostgreSQL knows only the
        database passwords it was initialised with), and its certificate is taken when this
        home has none. So an `up` from a home that did not deploy the platform (a CI runner,
        another machine) upgrades it in place instead of locking the services out."""
        path = layout.secrets_file(self.home, self.target)
        certs = layout.certs_dir(self.home, self.target)
        cert, key = certs / "gateway.crt", certs / "gateway.key"
        deployed: dict[str, str] = {}
        deployed_tls: tuple[bytes, bytes] | None = None
        if reused:
            self._note(
                "read the values of the Secrets flightctl-secrets and flightctl-tls deployed before, to keep them"
            )
            deployed = self._deployed_secret("flightctl-secrets")
            tls = self._deployed_secret("flightctl-tls")
            if tls.get("tls.crt") and tls.get("tls.key"):
                deployed_tls = (tls["tls.crt"].encode(), tls["tls.key"].encode())
        changed = False
        if self.dry_run:
            self._note(
                f"write {path} (mode 0600): API token and database passwords from the environment, ./.env, "
                "the platform deployed before, the previous run, or generated"
            )
            self._note(f"create the gateway certificate {cert} and key {key} if missing or expiring")
        else:
            from flightctl.platform.certs import make_self_signed

            stored = {**secret_values.read(path), **deployed}
            secret_values.write(path, secret_values.resolve(environ, cwd, stored))
            if deployed_tls is not None and not (cert.is_file() and key.is_file()):
                certs.mkdir(parents=True, exist_ok=True)
                key.touch(mode=0o600, exist_ok=True)
                key.chmod(0o600)
                key.write_bytes(deployed_tls[1])
                cert.write_bytes(deployed_tls[0])
            # What the gateway serves now: the deployed certificate, else (none readable) this home's.
            before = deployed_tls[0] if deployed_tls is not None else (cert.read_bytes() if cert.is_file() else None)
            cert, key = make_self_signed(certs)
            changed = cert.read_bytes() != before
        tuning = secret_values.settings(environ, cwd)
        settings_path = layout.settings_file(self.home, self.target)
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
        return changed

    def _deployed_secret(self, name: str) -> dict[str, str]:
        """The values of a Secret of the deployed platform ({} when it has none)."""
        if self.dry_run:
            return {}
        result = self.runner.run(
            self._kubectl("get", "secret", name, "--ignore-not-found", "-o", "json", namespace=layout.NAMESPACE)
        )
        if not result.ok:
            raise FlightctlError(f"reading the Secret {name} of the deployed platform failed{_reason(result)}")
        if not result.stdout.strip():
            return {}
        try:
            data = json.loads(result.stdout).get("data") or {}
            return {key: base64.b64decode(value).decode() for key, value in data.items()}
        except (ValueError, AttributeError) as error:
            raise FlightctlError(f"the Secret {name} of the deployed platform is not readable: {error}") from None

    def _forward_gateway(self) -> None:
        """An existing cluster's gateway is ClusterIP: forward it to 127.0.0.1 (kept running in
        the background, like `flightctl port-forward start gateway`). A forward from before is
        replaced: kubectl forwards to one pod, which this `up` may have replaced."""
        if self.dry_run:
            argv = portforward.command(layout.GATEWAY, "PORT", self.target)
            self._note(f"in the background, PORT a free port on 127.0.0.1: {shlex.join(argv)}")
            return
        previous = portforward.active(self.home, layout.GATEWAY, self.target)
        if previous is not None:
            portforward.stop(self.home, layout.GATEWAY, self.target)
        port = previous.port if previous is not None and not port_in_use(previous.port) else None
        forward = portforward.start(self.home, self.runner, layout.GATEWAY, port, target=self.target)
        self.progress(f"the gateway is forwarded to {forward.url} (pid {forward.pid})")

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
        """Stop the port-forwards; delete the Kind cluster (its volumes go with it), or on an
        existing cluster the namespace flightctl (every object and volume of the platform, the
        cluster stays). ``purge`` also removes what flightctl keeps for the target under
        $FLIGHTCTL_HOME. None for a dry run."""
        if components:
            raise UsageError(
                "the platform on a cluster is removed as a whole; scale a workload with kubectl instead"
                if not self.target.owned
                else "the kind cluster is deleted as a whole; scale a workload with kubectl instead"
            )
        self.check_prerequisites(("kind",) if self.target.owned else ("kubectl",))
        stopped = [
            f"port-forward {name}"
            for name in portforward.stop_all(self.home, self.dry_run, self.echo, target=self.target)
        ]
        if self.target.owned:
            if self.cluster_exists() or self.dry_run:
                self.progress(f"deleting the kind cluster {layout.CLUSTER!r}")
                self._run(
                    ["kind", "delete", "cluster", "--name", layout.CLUSTER], stream=True, what="deleting the cluster"
                )
                stopped.append(f"kind cluster {layout.CLUSTER}")
        else:
            self.progress(f"deleting the namespace {layout.NAMESPACE} from {self.target.describe()}")
            found = self._run(
                self._kubectl("delete", "namespace", layout.NAMESPACE, "--ignore-not-found", "--wait=true"),
                stream=False,
                what=f"deleting the namespace {layout.NAMESPACE}",
            )
            if self.dry_run or found.stdout.strip():
                stopped.append(f"namespace {layout.NAMESPACE} on {self.target.kube_context}")
        if purge:
            where = self.target.state_dir(self.home)
            self._note(f"remove {where}")
            if not self.dry_run:
                shutil.rmtree(where, ignore_errors=True)
        return None if self.dry_run else stopped

    def status(self) -> dict[str, Any]:
        self.check_prerequisites(("kubectl",))
        result = self.runner.run(
            self._kubectl("get", "deployments,statefulsets", "-o", "json", namespace=layout.NAMESPACE)
        )
        if not result.ok:
            start = "--kind" if self.target.owned else f"--kube-context {self.target.kube_context}"
            raise FlightctlError(
                f"{self.target.describe()} does not answer{_reason(result)}; start it with `flightctl up {start}`"
            )
        ready = {
            item["metadata"]["name"]: int(item.get("status", {}).get("readyReplicas") or 0)
            >= int(item.get("spec", {}).get("replicas", 1))
            > 0
            for item in json.loads(result.stdout).get("items", [])
        }
        restarts = self._restarts()
        gateway = endpoints.gateway_url(self.home, self.target)
        services: dict[str, dict[str, Any]] = {}
        for name in SERVICES:
            forward = portforward.active(self.home, name, self.target)
            url = f"http://127.0.0.1:{forward.port}" if forward else None
            routed = None
            if name in endpoints.PREFIXES and gateway is not None:
                routed = gateway + endpoints.PREFIXES[name]
            services[name] = {"url": url or routed, "gateway_url": routed, "healthy": ready.get(name, False)}
            if restarts is not None:
                services[name].update(restarts.get(name, {"restarts": 0, "last_exit": None}))
        prometheus = portforward.active(self.home, "prometheus", self.target)
        # HTTP redirects to HTTPS: on Kind from port 80; through a forward of the gateway's HTTPS
        # port, plain HTTP on that same port is redirected too.
        if self.target.owned:
            gateway_http: str | None = "http://127.0.0.1"
        else:
            gateway_http = gateway.replace("https://", "http://", 1) if gateway else None
        return {
            "mode": self.target.context,
            "cluster": layout.CLUSTER if self.target.owned else self.target.kube_context,
            "kube_context": self.target.kube_context,
            "gateway": gateway,
            "gateway_http": gateway_http,
            "prometheus": f"http://127.0.0.1:{prometheus.port}" if prometheus else None,
            "kafka": f"kafka.{layout.NAMESPACE}.svc:9092 (inside the cluster)",
            "postgres": f"postgres.{layout.NAMESPACE}.svc:5432 (inside the cluster)",
            "services": services,
            "workloads": ready,
        }

    def _restarts(self) -> dict[str, dict[str, Any]] | None:
        """Per workload (the pods' ``app`` label): the restarts of its pods' containers, and how
        the most recent restarted container's previous run ended (``OOMKilled (exit code 137)``),
        as the local supervisor reports them. None when the pods cannot be listed."""
        result = self.runner.run(self._kubectl("get", "pods", "-o", "json", namespace=layout.NAMESPACE))
        try:
            pods = json.loads(result.stdout).get("items", []) if result.ok else None
        except ValueError:
            pods = None
        if pods is None:
            return None
        found: dict[str, dict[str, Any]] = {}
        latest: dict[str, str] = {}
        for pod in pods:
            app = pod.get("metadata", {}).get("labels", {}).get("app")
            if not app:
                continue
            shown = found.setdefault(app, {"restarts": 0, "last_exit": None})
            for container in pod.get("status", {}).get("containerStatuses", []):
                shown["restarts"] += int(container.get("restartCount") or 0)
                ended = container.get("lastState", {}).get("terminated")
                if ended and str(ended.get("finishedAt") or "") >= latest.get(app, ""):
                    latest[app] = str(ended.get("finishedAt") or "")
                    shown["last_exit"] = f"{ended.get('reason') or 'exited'} (exit code {ended.get('exitCode')})"
        return found

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
        return endpoints.service_url(self.home, service, self.target)

    def api_token(self) -> tuple[str, str] | None:
        token = endpoints.api_token(self.home, self.target)
        where = "the kind cluster's secret" if self.target.owned else f"the secret of {self.target.kube_context}"
        return (token, where) if token else None

    def certificate(self) -> Path | None:
        return endpoints.certificate(self.home, self.target)

    def component_versions(self) -> dict[str, dict[str, Any]]:
        from flightctl.versions import cluster_components

        components = cluster_components()
        # The entry point is the gateway's NGINX (the ingress-nginx controller only with --ingress).
        components["nginx"] = _gateway_nginx()
        return components


KindPlatform = ClusterPlatform  # the name it had while Kind was its only target


class _Planned:
    """A dry run's stand-in runner for the checks: prints each command, answers success."""

    def __init__(self, platform: ClusterPlatform) -> None:
        self._platform = platform

    def run(self, argv: Sequence[str], **_options: Any) -> Completed:
        return self._platform._run(argv)  # printed, not run


def buildkit(runner: Any, docker: str = "docker") -> tuple[bool, str]:
    """Whether ``docker build`` can use BuildKit (the Dockerfile's RUN --mount needs it), and
    what was found or what to do: the buildx plugin, or (without it) a docker CLI older than 23
    whose built-in BuildKit DOCKER_BUILDKIT=1 turns on. Docker 23 and newer without buildx
    only has the legacy builder."""
    buildx = runner.run([docker, "buildx", "version"], timeout=20)
    if buildx.ok:
        return True, f"buildx {' '.join(buildx.stdout.split()[1:2]) or '(version unknown)'}".strip()
    client = runner.run([docker, "version", "--format", "{{.Client.Version}}"], timeout=20)
    version = client.stdout.strip()
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else None
    if major is not None and major < 23:  # the client answers even when the engine does not
        return True, f"docker {version}: built-in BuildKit (DOCKER_BUILDKIT=1)"
    return False, (
        f"{docker} {version or '(version unknown)'} has no BuildKit, which the images' Dockerfile needs: install the "
        f"buildx plugin (e.g. apt-get install -y docker-buildx), or point {FLIGHTCTL_DOCKER} at a docker CLI "
        "that has it"
    )


def _gateway_nginx() -> dict[str, Any]:
    import re

    import yaml

    manifest = deploy.path("kubernetes", "base", "gateway", "gateway.yaml")
    deployment = next(doc for doc in yaml.safe_load_all(manifest.read_text()) if doc["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    match = re.search(r":v?(\d+(?:\.\d+)*)", image)
    return {"version": match.group(1) if match else None, "source": image}


def _digest(repo_digests: str, remote: str) -> str:
    """REMOTE@sha256:... from `docker image inspect --format '{{json .RepoDigests}}'`."""
    try:
        digests = json.loads(repo_digests or "[]")
    except ValueError:
        digests = []
    for entry in digests if isinstance(digests, list) else []:
        if isinstance(entry, str) and entry.startswith(f"{remote}@sha256:"):
            return entry
    raise FlightctlError(f"docker reports no digest of {remote} after the push (RepoDigests: {repo_digests.strip()})")


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
