"""What flightctl deploys, shipped inside the package so that an installed `flightctl` needs no
checkout: the Dockerfile of the service images, the Kubernetes manifests (kustomize base,
overlays, components, the Kind cluster configurations, the vendored ingress-nginx), the NGINX
gateway template and the Maven descriptor of the Kafka broker.

:func:`path` gives the file or folder on disk (a wheel installs unpacked, and kubectl, docker
and Maven need real paths)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from flightctl.errors import FlightctlError


def root() -> Path:
    return Path(str(resources.files(__name__)))


def path(*parts: str) -> Path:
    """A shipped file or folder, e.g. ``path("kubernetes", "overlays", "kind")``."""
    found = root().joinpath(*parts)
    if not found.exists():
        raise FlightctlError(f"{found} is missing from the flightctl package; reinstall flightctl-platform")
    return found
