"""`flightctl version`: the package's version and the versions of what the platform runs.

Local: the PostgreSQL, Prometheus and NGINX binaries the local platform starts (each asked
with its own ``--version``), and the Kafka release the shipped Maven descriptor pins. Kind:
the image tags the shipped manifests deploy. A component that is not installed has no version
and says so; nothing here fails because of it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any

from flightctl import deploy
from flightctl.errors import FlightctlError

if TYPE_CHECKING:
    from flightctl.platform.interface import Platform

DISTRIBUTION = "flightctl-platform"
# The images that carry each component in the shipped manifests. On the cluster the gateway's
# NGINX is the ingress-nginx controller, whose release (not NGINX's) its tag names.
IMAGES = {
    "postgresql": "postgres",
    "kafka": "apache/kafka",
    "prometheus": "prom/prometheus",
    "ingress-nginx": "registry.k8s.io/ingress-nginx/controller",
}


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - only when run from a bare source tree
        import flightctl

        return flightctl.__version__


def _ask(argv: list[str], pattern: str) -> str | None:
    """The version a program prints (stdout or stderr), or None when it cannot say."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, result.stdout + result.stderr)
    return match.group(1) if match else None


def _binary(find: Callable[[], str], argv: list[str], pattern: str) -> dict[str, Any]:
    try:
        path = find()
    except FlightctlError:
        return {"version": None, "source": "not installed (see `flightctl doctor`)"}
    version = _ask([path, *argv], pattern)
    return {"version": version, "source": path if version else f"{path} (did not report a version)"}


def local_components() -> dict[str, dict[str, Any]]:
    from flightctl.local import kafka, nginx, postgres, prometheus

    jars = kafka.jar_dir()
    fetched = any(jars.glob("kafka_2.13-*.jar"))
    return {
        "postgresql": _binary(lambda: postgres.bin_path("postgres"), ["--version"], r"\(PostgreSQL\)\s+(\S+)"),
        "kafka": {
            "version": kafka.kafka_version(),
            "source": str(jars) if fetched else "Maven Central (fetched on the first `flightctl up --local`)",
        },
        "prometheus": _binary(prometheus.binary, ["--version"], r"version\s+([0-9][^\s]*)"),
        "nginx": _binary(nginx.binary, ["-v"], r"nginx/(\S+)"),
    }


def _images() -> list[str]:
    import yaml

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            image = node.get("image")
            if isinstance(image, str):
                found.append(image)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for manifest in sorted(deploy.path("kubernetes").rglob("*.yaml")):
        for document in yaml.safe_load_all(manifest.read_text()):
            walk(document)
    return found


def cluster_components() -> dict[str, dict[str, Any]]:
    images = _images()
    components: dict[str, dict[str, Any]] = {}
    for component, repository in IMAGES.items():
        image = next((i for i in images if i.split("@")[0].rpartition(":")[0] == repository), None)
        tag = image.split("@")[0].rpartition(":")[2] if image else None
        version = re.sub(r"^v", "", tag).split("-")[0] if tag else None
        components[component] = {"version": version, "source": image or "not in the manifests"}
    return components


def report(platform: Platform) -> dict[str, Any]:
    """`flightctl version`: this package's version and the components of ``platform``."""
    return {"flightctl": package_version(), "context": platform.name, "components": platform.component_versions()}
