"""Names and places of the cluster mode: the Kind cluster, the kubectl context, the namespace,
the images, and what flightctl keeps per target (flightctl.kind.target) under $FLIGHTCTL_HOME:
kind/ for the Kind cluster, cluster/<kube context>/ for an existing one (generated secrets,
certificate, build context, port-forwards). Every function takes the target; None is the Kind
cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flightctl.platform.layout import SERVICES, Home

if TYPE_CHECKING:
    from flightctl.kind.target import Target

CLUSTER = "flightctl"
KUBE_CONTEXT = f"kind-{CLUSTER}"
NAMESPACE = "flightctl"
IMAGE_TAG = "dev"
GATEWAY = "gateway"
# What `flightctl port-forward` can reach, and the Service port it forwards to (the gateway's
# HTTPS port). `flightctl logs` reads the same Deployments.
FORWARDABLE = {**dict.fromkeys(SERVICES, 8080), "prometheus": 9090, GATEWAY: 443}


def image(service: str) -> str:
    return f"flightctl/{service}:{IMAGE_TAG}"


def kind_dir(home: Home) -> Path:
    return home.path("kind")


def state_dir(home: Home, target: Target | None = None) -> Path:
    return target.state_dir(home) if target is not None else kind_dir(home)


def secrets_file(home: Home, target: Target | None = None) -> Path:
    """KEY=VALUE lines (0600): the values of the Secret flightctl-secrets."""
    return state_dir(home, target) / "secrets.env"


def settings_file(home: Home, target: Target | None = None) -> Path:
    """KEY=VALUE lines: the non-secret settings (ConfigMap flightctl-settings)."""
    return state_dir(home, target) / "settings.env"


def certs_dir(home: Home, target: Target | None = None) -> Path:
    return state_dir(home, target) / "certs"


def build_dir(home: Home, target: Target | None = None) -> Path:
    """The image build context, written anew by every `up` (flightctl.deploy.images)."""
    return state_dir(home, target) / "build"


def kustomize_dir(home: Home, target: Target | None = None) -> Path:
    """The kustomization flightctl writes when it adds to a shipped overlay (image names of a
    registry, the ingress component)."""
    return state_dir(home, target) / "kustomize"


def forwards_dir(home: Home, target: Target | None = None) -> Path:
    return state_dir(home, target) / "port-forwards"
