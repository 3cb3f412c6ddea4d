"""The local Kubernetes cluster of k8s-local.sh as a session fixture.

Opt-in: tests using ``local_cluster`` run only with FLIGHTCTL_K8S_TESTS=1, as root, once the
builds are done (``k8s-local.sh install build images``); otherwise they are skipped. A
cluster already up is reused and left up; one the fixture brought up is taken down at the end,
and the machine must then be clean (``k8s-local.sh check-clean``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.cluster.cluster import LocalCluster

ENABLED = os.environ.get("FLIGHTCTL_K8S_TESTS") == "1"


def _skip_reason() -> str | None:
    if not ENABLED:
        return "the local Kubernetes cluster is opt-in: FLIGHTCTL_K8S_TESTS=1 (see tests/cluster/README.md)"
    if os.geteuid() != 0:
        return "the local Kubernetes cluster needs root"
    return None


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    cluster = LocalCluster()
    reused = cluster.is_up()
    if not reused:
        cluster.up()
    try:
        yield cluster
    finally:
        if not reused:
            cluster.down()
            left = cluster.leftovers()
            assert left == [], f"the cluster left behind: {left}"
