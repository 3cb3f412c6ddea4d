"""Every overlay, with and without the optional Ingress, through the real API server:
`kubectl apply --server-side --dry-run=server` must accept every object (what offline schema
validation cannot see: admission, defaulting, cross-field rules, Pod Security on pods).

The overlays are rendered into a scratch namespace (kustomize's ``namespace:``), which is
created for real from the rendered Namespace object (so it carries the same Pod Security
labels) and deleted afterwards: the dry run is independent of the platform the other tests
deploy, and runs against no existing object."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flightctl import deploy
from tests.cluster.cluster import LocalCluster

SCRATCH = "flightctl-dry-run"
OVERLAYS = ("kind", "kind-multinode", "cluster")


@pytest.fixture(scope="module")
def scratch(local_cluster: LocalCluster) -> Iterator[str]:
    yield SCRATCH
    local_cluster.kubectl("delete", "namespace", SCRATCH, "--ignore-not-found", "--wait=true")


def kustomization(directory: Path, overlay: str, ingress: bool) -> Path:
    def relative(*parts: str) -> str:
        return os.path.relpath(deploy.path("kubernetes", *parts), directory)  # kustomize: relative paths only

    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        f"namespace: {SCRATCH}",
        "resources:",
        f"  - {relative('overlays', overlay)}",
    ]
    if ingress:
        lines += ["components:", f"  - {relative('components', 'ingress-nginx')}"]
    (directory / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    return directory


@pytest.mark.parametrize("ingress", [False, True], ids=["gateway", "with-ingress"])
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_server_accepts_every_object(
    local_cluster: LocalCluster, scratch: str, overlay: str, ingress: bool, tmp_path: Path
) -> None:
    directory = kustomization(tmp_path, overlay, ingress)
    rendered = local_cluster.kubectl("kustomize", str(directory)).stdout
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert any(o["kind"] == "Ingress" for o in objects) == ingress
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == scratch
    local_cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(namespace))
    result = local_cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=rendered, check=False)
    assert result.returncode == 0, result.stderr
    accepted = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(objects), result.stdout
    assert "Warning" not in result.stderr, result.stderr  # e.g. a pod template Pod Security would refuse


def test_the_api_server_accepts_the_vendored_ingress_controller(local_cluster: LocalCluster) -> None:
    """What `flightctl up --kind --ingress` applies first (never run here: no controller image)."""
    vendored = str(deploy.path("kubernetes", "vendor", "ingress-nginx"))
    rendered = local_cluster.kubectl("kustomize", vendored).stdout
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    made = local_cluster.kubectl("get", "namespace", "ingress-nginx", check=False).returncode != 0
    if made:
        local_cluster.kubectl("create", "namespace", "ingress-nginx")
    try:
        result = local_cluster.kubectl(
            "apply", "--server-side", "--dry-run=server", "-f", "-", input=rendered, check=False
        )
    finally:
        if made:
            local_cluster.kubectl("delete", "namespace", "ingress-nginx", "--wait=true")
    assert result.returncode == 0, result.stderr
    accepted = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(objects), result.stdout
