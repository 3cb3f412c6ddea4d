"""`flightctl down` on the existing cluster leaves nothing of the platform behind. Runs last
(marker ``last``): the other tests share the deployment it removes. The harness's own
check-clean, after the cluster itself is taken down, is the ``local_cluster`` fixture's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flightctl.platform import proc
from tests.cluster.deployed import DOUBLES, NAMESPACE, Deployed, wait_for

# What the cluster has without the platform: its own namespaces, the test's doubles.
CLUSTER_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage", DOUBLES}
PART_OF = "app.kubernetes.io/part-of"


def ours(item: dict[str, Any]) -> bool:
    metadata = item["metadata"]
    return metadata.get("namespace") == NAMESPACE or metadata.get("labels", {}).get(PART_OF) == "flightctl"


@pytest.mark.last
def test_flightctl_down_leaves_nothing_of_the_platform_in_the_cluster(deployed: Deployed) -> None:
    forward = json.loads((deployed.home / "cluster" / "flightctl-local" / "port-forwards" / "gateway.json").read_text())
    claimed = {
        pv["metadata"]["name"]
        for pv in json.loads(deployed.cluster.kubectl("get", "pv", "-o", "json").stdout)["items"]
        if pv["spec"].get("claimRef", {}).get("namespace") == NAMESPACE
    }
    assert claimed, "the platform had no volume"

    result = deployed.flightctl("--context", "cluster", "down")
    assert "namespace flightctl" in result.stderr, result.stderr

    listing = json.loads(
        deployed.cluster.kubectl("get", "all,networkpolicy,pvc,configmap,secret", "-A", "-o", "json").stdout
    )["items"]
    assert [f"{i['kind']}/{i['metadata']['name']}" for i in listing if ours(i)] == []
    assert {i["metadata"]["namespace"] for i in listing} <= CLUSTER_NAMESPACES
    namespaces = json.loads(deployed.cluster.kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    assert {n["metadata"]["name"] for n in namespaces} <= CLUSTER_NAMESPACES
    cluster_wide = json.loads(
        deployed.cluster.kubectl("get", "clusterroles,clusterrolebindings,ingressclasses", "-o", "json").stdout
    )["items"]
    assert [i["metadata"]["name"] for i in cluster_wide if ours(i)] == []

    # The volumes: released with their claims, then deleted by the provisioner (reclaim Delete).
    def volumes_gone() -> bool:
        names = {
            pv["metadata"]["name"]
            for pv in json.loads(deployed.cluster.kubectl("get", "pv", "-o", "json").stdout)["items"]
        }
        return not (names & claimed)

    wait_for("the platform's volumes deleted", volumes_gone, 120)
    # And on this machine: the gateway's port-forward is stopped.
    assert not proc.alive(int(forward["pid"]))
