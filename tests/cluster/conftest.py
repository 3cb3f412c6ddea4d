"""The local Kubernetes cluster of k8s-local.sh as a session fixture.

`make test` (and so CI) prepares it (``k8s-local.sh install build images``) and runs this
folder in a pytest run of its own, after the rest of the suite. Without root, or without the
builds, the tests fail with a line saying what to run; they are never skipped. A cluster
already up is reused and left up; one the fixture brought up is taken down at the end, and the
machine must then be clean (``k8s-local.sh check-clean``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.cluster.cluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    if os.geteuid() != 0:
        pytest.fail("the local Kubernetes cluster needs root (see tests/cluster/README.md)")
    cluster = LocalCluster()
    reused = cluster.is_up()
    try:
        if not reused:
            cluster.up()
        yield cluster
    finally:
        if not reused:
            cluster.down()
            left = cluster.leftovers()
            assert left == [], f"the cluster left behind: {left}"
