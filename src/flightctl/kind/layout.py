"""Names and places of the cluster mode: the cluster, the kubectl context, and what flightctl
keeps under $FLIGHTCTL_HOME/kind/ (generated secrets, certificate, port-forwards)."""

from __future__ import annotations

from pathlib import Path

from flightctl.platform.layout import SERVICES, Home

CLUSTER = "flightctl"
KUBE_CONTEXT = f"kind-{CLUSTER}"
NAMESPACE = "flightctl"
IMAGE_TAG = "dev"
# What `flightctl port-forward` can reach, and the Service port it forwards to.
FORWARDABLE = {**dict.fromkeys(SERVICES, 8080), "prometheus": 9090}


def image(service: str) -> str:
    return f"flightctl/{service}:{IMAGE_TAG}"


def kind_dir(home: Home) -> Path:
    return home.path("kind")


def secrets_file(home: Home) -> Path:
    """KEY=VALUE lines (0600): the values of the Secret flightctl-secrets."""
    return kind_dir(home) / "secrets.env"


def settings_file(home: Home) -> Path:
    """KEY=VALUE lines: the non-secret settings (ConfigMap flightctl-settings)."""
    return kind_dir(home) / "settings.env"


def certs_dir(home: Home) -> Path:
    return kind_dir(home) / "certs"


def build_dir(home: Home) -> Path:
    """The image build context, written anew by every `up` (flightctl.deploy.images)."""
    return kind_dir(home) / "build"


def forwards_dir(home: Home) -> Path:
    return kind_dir(home) / "port-forwards"
