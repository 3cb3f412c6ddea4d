"""The kustomize overlays build, and every object they produce is valid Kubernetes.

Validation is offline and strict (unknown fields are errors) against the schemas that the
kubernetes-validate package ships, for the oldest Kubernetes these manifests support and the
newest one the package knows.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from flightctl.kind.platform import KIND_HTTPS_NODE_PORT

from .kube import KUBERNETES_DIR, OVERLAYS, Manifest, find, kustomize, rendered, with_components

OLDEST_SUPPORTED = "1.31.0"
VERSIONS = (OLDEST_SUPPORTED, kubernetes_validate.latest_version())


@pytest.fixture(scope="module", autouse=True)
def _cached_schemas() -> Iterator[None]:
    """kubernetes-validate re-reads its JSON schemas on every call; read each one once."""
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        kubernetes_validate.utils.schema_contents = original


def _validate(manifest: Manifest, version: str) -> None:
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(p) for p in error.absolute_path)
        pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']} at {path}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError as error:
        pytest.fail(error.message)


def test_base_builds_on_its_own() -> None:
    objects = kustomize(KUBERNETES_DIR / "base")
    assert {m["kind"] for m in objects} >= {"Namespace", "Deployment", "StatefulSet", "Job", "NetworkPolicy"}
    assert "Ingress" not in {m["kind"] for m in objects}, "the Ingress is optional (components/ingress-nginx)"
    assert ("Deployment", "gateway") in {(m["kind"], m["metadata"]["name"]) for m in objects}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_ingress_component_validates_on_every_overlay(overlay: str, version: str, tmp_path: Path) -> None:
    objects = with_components(tmp_path, KUBERNETES_DIR / "overlays" / overlay, "ingress-nginx")
    assert len(objects) == len(rendered(overlay)) + 1
    for manifest in objects:
        _validate(manifest, version)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_strictly(overlay: str, version: str) -> None:
    objects = rendered(overlay)
    assert len(objects) > 40
    for manifest in objects:
        _validate(manifest, version)


def test_strict_validation_rejects_unknown_fields() -> None:
    deployment = copy.deepcopy(next(m for m in rendered("kind") if m["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"port": 8080}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, OLDEST_SUPPORTED, strict=True)


def test_objects_are_unique_and_namespaced(overlay: str, manifests: list[Manifest]) -> None:
    keys = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(keys) == len(set(keys)), "an object is described twice"
    for manifest in manifests:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"].get("namespace") == "flightctl", manifest["metadata"]["name"]


def test_kind_cluster_configs() -> None:
    single = yaml.safe_load((KUBERNETES_DIR / "kind" / "cluster.yaml").read_text())
    multi = yaml.safe_load((KUBERNETES_DIR / "kind" / "cluster-multinode.yaml").read_text())
    for config in (single, multi):
        assert config["kind"] == "Cluster"
        assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
        control_plane = config["nodes"][0]
        assert control_plane["role"] == "control-plane"
        assert control_plane["labels"] == {"ingress-ready": "true"}  # where --ingress puts the controller
        # The gateway's NodePorts (overlays/kind), on the host's loopback only.
        gateway = {p["name"]: p["nodePort"] for p in find(rendered("kind"), "Service", "gateway")["spec"]["ports"]}
        assert {
            (p["containerPort"], p["hostPort"], p["listenAddress"]) for p in control_plane["extraPortMappings"]
        } == {(gateway["http"], 80, "127.0.0.1"), (gateway["https"], 443, "127.0.0.1")}
    assert gateway["https"] == KIND_HTTPS_NODE_PORT, "what `up` checks on a reused cluster"
    assert [n["role"] for n in single["nodes"]] == ["control-plane"]
    assert [n["role"] for n in multi["nodes"]] == ["control-plane", "worker", "worker"]


@pytest.mark.parametrize("version", VERSIONS)
def test_vendored_ingress_nginx_builds_and_validates(version: str) -> None:
    for manifest in kustomize(KUBERNETES_DIR / "vendor" / "ingress-nginx"):
        _validate(manifest, version)


VENDORED_SHA256 = "fa30a2a50342432db2e35639998d5dd1fbef6fa4336c55e5c39f451b7f946b63"


def test_the_vendored_ingress_nginx_manifest_is_upstreams_unchanged() -> None:
    """deploy.yaml is byte for byte the file README.md names (a change is deliberate: update both)."""
    digest = hashlib.sha256((KUBERNETES_DIR / "vendor" / "ingress-nginx" / "deploy.yaml").read_bytes()).hexdigest()
    assert digest == VENDORED_SHA256
    assert VENDORED_SHA256 in (KUBERNETES_DIR / "vendor" / "ingress-nginx" / "README.md").read_text()


def test_vendored_ingress_nginx_runs_on_the_ingress_ready_node() -> None:
    objects = kustomize(KUBERNETES_DIR / "vendor" / "ingress-nginx")
    kinds = {(m["kind"], m["metadata"]["name"]) for m in objects}
    assert {
        ("Namespace", "ingress-nginx"),
        ("IngressClass", "nginx"),
        ("ValidatingWebhookConfiguration", "ingress-nginx-admission"),
        ("Job", "ingress-nginx-admission-create"),
        ("Job", "ingress-nginx-admission-patch"),
        ("Service", "ingress-nginx-controller-admission"),
    } <= kinds
    controller = next(m for m in objects if m["kind"] == "Deployment")
    spec = controller["spec"]["template"]["spec"]
    assert spec["nodeSelector"]["ingress-ready"] == "true"
    assert {t["key"] for t in spec["tolerations"]} >= {"node-role.kubernetes.io/control-plane"}
    (container,) = spec["containers"]
    # Upstream's release manifest, pinned by tag and digest.
    assert re.fullmatch(r"registry\.k8s\.io/ingress-nginx/controller:v1\.11\.0@sha256:[0-9a-f]{64}", container["image"])
    host_ports = {p["containerPort"]: p.get("hostPort") for p in container["ports"]}
    assert host_ports[80] == 80 and host_ports[443] == 443
    assert "--ingress-class=nginx" in container["args"]
    assert container["args"][-1] == "--default-ssl-certificate=flightctl/flightctl-tls"
    namespace = next(m for m in objects if m["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == "ingress-nginx"
    ingress_class = next(m for m in objects if m["kind"] == "IngressClass")
    assert ingress_class["spec"]["controller"] == "k8s.io/ingress-nginx"
    webhook = next(m for m in objects if m["kind"] == "ValidatingWebhookConfiguration")
    service = webhook["webhooks"][0]["clientConfig"]["service"]
    assert (service["namespace"], service["name"]) == ("ingress-nginx", "ingress-nginx-controller-admission")
    for job in (m for m in objects if m["kind"] == "Job"):
        (certgen,) = job["spec"]["template"]["spec"]["containers"]
        assert re.fullmatch(
            r"registry\.k8s\.io/ingress-nginx/kube-webhook-certgen:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", certgen["image"]
        )


def _spread_constraints(manifests: list[Manifest]) -> Iterator[tuple[str, dict]]:
    for manifest in manifests:
        if manifest["kind"] in ("Deployment", "StatefulSet"):
            for constraint in manifest["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
                yield manifest["metadata"]["name"], constraint


def _spread_errors(manifests: list[Manifest]) -> list[str]:
    """What the API server refuses in a topology spread constraint and offline schemas allow:
    a matchLabelKeys key that the labelSelector names too, or matchLabelKeys without a selector."""
    errors = []
    for name, constraint in _spread_constraints(manifests):
        keys = set(constraint.get("matchLabelKeys", []))
        selector = constraint.get("labelSelector")
        if keys and selector is None:
            errors.append(f"{name}: matchLabelKeys without labelSelector")
            continue
        named = set((selector or {}).get("matchLabels", {})) | {
            e["key"] for e in (selector or {}).get("matchExpressions", [])
        }
        errors += [f"{name}: {key} is in both labelSelector and matchLabelKeys" for key in sorted(keys & named)]
    return errors


def test_spread_constraints_are_what_the_api_server_accepts() -> None:
    manifests = rendered("kind-multinode")
    spread = dict(_spread_constraints(manifests))
    assert set(spread) == {
        "user-manager",
        "data-collector",
        "alert-system",
        "alert-notifier",
        "sla-breach-detector",
        "kafka",
    }
    assert _spread_errors(manifests) == []
    for constraint in spread.values():
        # Each workload spreads its own pods: flightctl's pods with the same app value.
        assert constraint["matchLabelKeys"] == ["app"]
        assert constraint["labelSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "flightctl"}}


def test_the_spread_check_sees_the_key_the_api_server_refused() -> None:
    """The constraint found on a real cluster (app in both) is caught here."""
    broken = copy.deepcopy(rendered("kind-multinode"))
    for _name, constraint in _spread_constraints(broken):
        constraint["labelSelector"] = {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    assert "kafka: app is in both labelSelector and matchLabelKeys" in _spread_errors(broken)
