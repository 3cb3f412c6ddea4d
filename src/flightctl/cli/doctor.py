"""`flightctl doctor`: every prerequisite of the current context, and how to install what is missing."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

import typer

from flightctl.cli.context import FLIGHTCTL_PORT_BASE, Context
from flightctl.cli.output import emit
from flightctl.cli.platform import (
    ContainerdAddress,
    ImageLoad,
    Kubeconfig,
    KubeContext,
    Registry,
    cluster_options_given,
)
from flightctl.errors import PrerequisiteMissing

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's

KIND_DOCS = "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
KUBECTL_DOCS = "https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/"
MIN_JAVA = 17


@dataclass
class Check:
    name: str
    required: bool
    ok: bool
    found: str
    fix: str = ""


def _which(name: str, required: bool, fix: str, binary: str | None = None) -> Check:
    path = shutil.which(binary or name)
    return Check(name, required, path is not None, path or "not found", "" if path else fix)


def _finder(name: str, required: bool, find: Callable[[], str]) -> Check:
    """Reuse the local platform's own look-up (its error message says what to install)."""
    try:
        return Check(name, required, True, find())
    except PrerequisiteMissing as exc:
        return Check(name, required, False, "not found", exc.message.split("install it: ", 1)[-1])


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check("python", True, ok, f"{sys.executable} ({version})", "" if ok else "install Python 3.11 or newer")


def _java(required: bool) -> Check:
    import re
    import subprocess

    fix = f"apt-get install -y openjdk-{MIN_JAVA}-jre-headless"
    path = shutil.which("java")
    if path is None:
        return Check("java", required, False, "not found", fix)
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=20, check=False).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("java", required, False, f"{path}: {exc}", fix)
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    ok = major >= MIN_JAVA
    return Check("java", required, ok, f"{path} (Java {major or '?'})", "" if ok else fix + f" (Java {MIN_JAVA}+)")


def _maven(required: bool) -> Check:
    from flightctl.local.kafka import jar_dir

    if any(jar_dir().glob("kafka_2.13-*.jar")):
        path = shutil.which("mvn")
        return Check("maven", False, True, f"{path or 'not needed'} (Kafka jars cached in {jar_dir()})")
    return _which("maven", required, "apt-get install -y maven", "mvn")


def _docker(required: bool) -> Check:
    import subprocess

    docker = _docker_cli()
    check = _which("docker", required, "apt-get install -y docker.io", docker)
    if not check.ok or not required:
        return check
    try:
        result = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        check.ok, check.fix = False, f"start the Docker daemon ({exc})"
        return check
    if result.returncode == 0:
        check.found += f" (server {result.stdout.strip()})"
        return check
    lines = result.stderr.strip().splitlines()
    check.ok, check.fix = False, f"start the Docker daemon ({lines[-1] if lines else 'no answer'})"
    return check


def _docker_cli() -> str:
    import os

    from flightctl.kind.platform import FLIGHTCTL_DOCKER

    return os.environ.get(FLIGHTCTL_DOCKER) or "docker"


def _buildkit(obj: Context, required: bool) -> Check:
    """docker build with BuildKit (the images' Dockerfile uses RUN --mount)."""
    from flightctl.kind.platform import buildkit

    if not required:
        return Check("buildkit", False, True, "not used by this context")
    docker = _docker_cli()
    if shutil.which(docker) is None:
        return Check("buildkit", required, False, "no docker", "install docker first")
    ok, found = buildkit(obj.kind_runner(), docker)
    return Check("buildkit", required, ok, found if ok else "missing", "" if ok else found)


def _cluster(obj: Context, required: bool) -> Check:
    """The existing cluster of the context cluster answers, through its kube context."""
    if not required:
        return Check("cluster", False, True, "not used by this context")
    target = obj.target()
    if shutil.which("kubectl") is None:
        return Check("cluster", True, False, target.kube_context, f"install kubectl ({KUBECTL_DOCS})")
    result = obj.kind_runner().run(target.kubectl("get", "--raw", "/readyz"), timeout=20)
    if result.ok:
        return Check("cluster", True, True, f"{target.kube_context}: ready")
    lines = (result.stderr or result.stdout).strip().splitlines()
    return Check(
        "cluster",
        True,
        False,
        f"{target.kube_context}: {lines[-1] if lines else 'no answer'}",
        "check --kube-context/--kubeconfig (kubectl config get-contexts) and that the cluster runs",
    )


def _containerd(obj: Context, required: bool) -> Check:
    """--image-load containerd: this machine's containerd answers ctr (run as a user that may)."""
    if not required:
        return Check("containerd", False, True, "not used by this context")
    target = obj.target()
    if shutil.which("ctr") is None:
        return Check("containerd", True, False, "no ctr", "apt-get install -y containerd (it brings ctr)")
    address = ["--address", target.containerd_address] if target.containerd_address else []
    result = obj.kind_runner().run(["ctr", *address, "--namespace", "k8s.io", "version"], timeout=20)
    where = target.containerd_address or "ctr's default socket"
    if result.ok:
        return Check("containerd", True, True, f"{where}: answers")
    lines = (result.stderr or result.stdout).strip().splitlines()
    return Check(
        "containerd",
        True,
        False,
        f"{where}: {lines[-1] if lines else 'no answer'}",
        "--containerd-address the node's containerd socket; run as a user allowed to use it (root)",
    )


def _ports(obj: Context, required: bool) -> Check:
    import os

    from flightctl.platform.layout import DEFAULT_PORT_BASE, Ports, port_in_use

    state = obj.home.load_state()
    base = state.port_base if state else int(os.environ.get(FLIGHTCTL_PORT_BASE) or DEFAULT_PORT_BASE)
    ports = Ports(base).all()
    label = f"{min(ports.values())}-{max(ports.values())}"
    if state is not None:
        from flightctl.local.platform import LocalPlatform

        if LocalPlatform(obj.home).anything_running():
            return Check("ports", required, True, f"{label} (held by this platform)")
    busy = [f"{name} {port}" for name, port in ports.items() if port_in_use(port)]
    if busy:
        fix = f"free them or choose another range: flightctl up --local --port-base N (or {FLIGHTCTL_PORT_BASE})"
        return Check("ports", required, False, f"{label}: in use: {', '.join(busy)}", fix)
    return Check("ports", required, True, f"{label} free")


def checks(obj: Context) -> list[Check]:
    from concurrent.futures import ThreadPoolExecutor

    from flightctl.local import nginx, postgres, prometheus

    need = obj.platform().required_tools  # what the current context's platform cannot do without
    tasks: list[Callable[[], Check]] = [
        _python,
        lambda: _java("java" in need),
        lambda: _maven("maven" in need),
        lambda: _finder("initdb", "initdb" in need, lambda: postgres.bin_path("initdb")),
        lambda: _finder("pg_ctl", "pg_ctl" in need, lambda: postgres.bin_path("pg_ctl")),
        lambda: _finder("prometheus", "prometheus" in need, prometheus.binary),
        lambda: _finder("nginx", "nginx" in need, nginx.binary),
        lambda: _which("openssl", False, "apt-get install -y openssl"),
        lambda: _docker("docker" in need),
        lambda: _buildkit(obj, "buildkit" in need),
        lambda: _which("kind", "kind" in need, f"see {KIND_DOCS}"),
        lambda: _which("kubectl", "kubectl" in need, f"see {KUBECTL_DOCS}"),
        lambda: _which("ctr", "ctr" in need, "apt-get install -y containerd (it brings ctr)"),
        lambda: _cluster(obj, "cluster" in need),
        lambda: _containerd(obj, "containerd" in need),
        lambda: _ports(obj, "ports" in need),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda task: task(), tasks))


@cli.command()
def doctor(
    ctx: typer.Context,
    kube_context: KubeContext = None,
    kubeconfig: Kubeconfig = None,
    image_load: ImageLoad = None,
    registry: Registry = None,
    containerd_address: ContainerdAddress = None,
) -> None:
    """Check the prerequisites of the current context.

    Each missing tool comes with the command that installs it; exit 5 when one the current
    context needs is missing. For an existing cluster (the context cluster, or --kube-context
    and the image options as `up` takes them): that it answers, BuildKit, and what the image
    delivery needs (ctr and this machine's containerd for --image-load containerd)."""
    obj: Context = ctx.obj
    if cluster_options_given(kube_context, kubeconfig, image_load, registry, containerd_address):
        from flightctl.cli.context import target_from_options

        obj.choose(False, False, cluster=True)
        obj.cluster_target = target_from_options(
            obj.home,
            kube_context,
            kubeconfig=kubeconfig,
            image_load=image_load,
            registry=registry,
            containerd_address=containerd_address,
        )
    obj.progress(f"checking prerequisites for the {obj.context} context")
    found = checks(obj)
    missing = [c for c in found if c.required and not c.ok]
    if obj.output == "table":
        rows = [{**asdict(c), "required": c.required, "ok": c.ok} for c in found]
        emit(rows, "table", ["name", "required", "ok", "found", "fix"])
    else:
        emit({"context": obj.context, "ok": not missing, "checks": [asdict(c) for c in found]}, obj.output)
    if missing:
        names = ", ".join(f"{c.name} ({c.fix})" for c in missing)
        raise PrerequisiteMissing(f"missing for the {obj.context} context: {names}")
    if any(not c.ok for c in found):
        obj.progress("optional tools are missing (see FIX); nothing the current context needs")
