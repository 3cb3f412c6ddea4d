"""Helpers for the deployment checks: render the kustomize overlays and walk the objects.

Everything here is offline: ``kubectl kustomize`` renders the manifests locally and talks to
no cluster. kubectl is a prerequisite of these tests, so a missing kubectl fails them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flightctl import deploy

KUBERNETES_DIR = deploy.path("kubernetes")
OVERLAYS = ("kind", "kind-multinode", "cluster")

Manifest = dict[str, Any]


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is required to render the kustomize overlays; install it and re-run")
    return path


def kustomize(directory: Path) -> list[Manifest]:
    """Render a kustomization with kubectl's built-in kustomize and parse the documents."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


_rendered: dict[str, list[Manifest]] = {}


def rendered(overlay: str) -> list[Manifest]:
    """The overlay's objects, rendered once per test session."""
    if overlay not in _rendered:
        _rendered[overlay] = kustomize(KUBERNETES_DIR / "overlays" / overlay)
    return _rendered[overlay]


def with_components(tmp_path: Path, resource: Path, *components: str) -> list[Manifest]:
    """``resource`` (an overlay or the base) with shipped components added, as `flightctl up`
    composes them (a kustomization of its own, relative paths)."""
    import os

    lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:"]
    lines.append(f"  - {os.path.relpath(resource, tmp_path)}")
    lines.append("components:")
    lines += [f"  - {os.path.relpath(KUBERNETES_DIR / 'components' / c, tmp_path)}" for c in components]
    (tmp_path / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    return kustomize(tmp_path)


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name}, found {len(matches)}"
    return matches[0]


def find_prefixed(manifests: list[Manifest], kind: str, prefix: str) -> Manifest:
    """A generated object (ConfigMap) whose name carries kustomize's content hash."""
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"].startswith(prefix + "-")]
    assert len(matches) == 1, f"expected exactly one {kind} named {prefix}-<hash>, found {len(matches)}"
    return matches[0]


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def workloads(manifests: list[Manifest]) -> Iterator[Manifest]:
    return (m for m in manifests if m["kind"] in WORKLOAD_KINDS)


def pod_spec(workload: Manifest) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def all_containers(workload: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}
