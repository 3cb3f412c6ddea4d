"""Targets: which cluster, how images reach it, where flightctl keeps its state, and how the
cluster target is remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightctl.errors import UsageError
from flightctl.kind.target import Target
from flightctl.platform.layout import Home


def test_the_kind_target_is_the_cluster_flightctl_owns(tmp_path: Path) -> None:
    kind = Target.kind()
    assert kind.owned and kind.context == "kind"
    assert (kind.kube_context, kind.image_load, kind.kind_cluster) == ("kind-flightctl", "kind", "flightctl")
    assert kind.kubectl("get", "pods", namespace="flightctl") == [
        "kubectl", "--context", "kind-flightctl", "-n", "flightctl", "get", "pods"
    ]  # fmt: skip
    assert kind.state_dir(Home(tmp_path)) == tmp_path / "kind"


def test_the_image_delivery_of_an_existing_cluster() -> None:
    assert Target.cluster("kind-dev").image_load == "kind"
    assert Target.cluster("kind-dev").kind_cluster == "dev"
    assert Target.cluster("prod", registry="reg.example.com:5000/team").image_load == "registry"
    local = Target.cluster("lab", image_load="containerd", containerd_address="/run/c.sock", registry=None)
    assert (local.image_load, local.containerd_address, local.registry) == ("containerd", "/run/c.sock", None)
    # An address only matters to containerd, a registry only to a push.
    assert Target.cluster("lab", registry="r.local", containerd_address="/x").containerd_address is None
    assert Target.cluster("kind-a", image_load="kind", registry="r.local").registry is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kube_context": "prod"}, "how do the images reach the cluster 'prod'"),
        ({"kube_context": "prod", "image_load": "ftp"}, "--image-load must be one of kind, containerd, registry"),
        ({"kube_context": "prod", "image_load": "registry"}, "needs --registry"),
        ({"kube_context": "prod", "image_load": "kind"}, "'prod' is not one"),
        ({"kube_context": "prod", "registry": "https://reg.local"}, "is not HOST"),
        ({"kube_context": "prod", "registry": "reg.local/team:v1"}, "is not HOST"),
        ({"kube_context": " "}, "--kube-context needs"),
    ],
)
def test_what_cannot_be_a_target_is_a_usage_error(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Target.cluster(**arguments)


def test_kubectl_names_the_kubeconfig_and_context_of_the_target() -> None:
    target = Target.cluster("lab", kubeconfig="/k/config", image_load="containerd")
    assert target.kubectl("apply", "-k", "dir") == [
        "kubectl", "--kubeconfig", "/k/config", "--context", "lab", "apply", "-k", "dir"
    ]  # fmt: skip
    assert not target.owned and "'lab'" in target.describe()


def test_each_cluster_keeps_its_own_state(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert Target.cluster("lab", image_load="containerd").state_dir(home) == tmp_path / "cluster" / "lab"
    odd = Target.cluster("arn:aws:eks:eu/one", registry="r.local").state_dir(home)
    assert odd == tmp_path / "cluster" / "arn_aws_eks_eu_one"


def test_the_remembered_form_round_trips() -> None:
    target = Target.cluster("lab", kubeconfig="/k", image_load="containerd", containerd_address="/run/c.sock")
    saved = target.to_config()
    assert saved == {
        "kube_context": "lab",
        "kubeconfig": "/k",
        "image_load": "containerd",
        "containerd_address": "/run/c.sock",
    }
    assert Target.from_config(saved) == target
    assert Target.from_config({**Target.cluster("kind-a").to_config(), "unknown": 1}) == Target.cluster("kind-a")
    assert Target.from_config(None) is None and Target.from_config({"image_load": "kind"}) is None
