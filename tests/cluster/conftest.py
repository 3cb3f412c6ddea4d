"""The local Kubernetes cluster of k8s-local.sh as a session fixture, and the platform
deployed on it by `flightctl up` (once per session, shared by the tests).

`make test` (and so CI) prepares it (``k8s-local.sh install build images``) and runs this
folder in a pytest run of its own, after the rest of the suite. Without root, or without the
builds, the tests fail with a line saying what to run; they are never skipped. A cluster
already up is reused and left up; one the fixture brought up is taken down at the end, and the
machine must then be clean (``k8s-local.sh check-clean``).

Tests marked ``last`` run after every other test of the session (the one that takes the
platform down with `flightctl down`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import LocalCluster
from tests.cluster.deployed import (
    DOUBLES,
    NAMESPACE,
    Deployed,
    doubles_image,
    doubles_manifest,
    standin_images,
    up_command,
    up_environment,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: run after every other test of the session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)  # stable: order kept otherwise
    for item in items:
        if Path(__file__).parent not in item.path.parents:
            continue
        # The session's fixtures (cluster up, `flightctl up`) count towards the first test that
        # needs them; a cold machine is slower than the suite's default of 300 s.
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(900))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test's report carries the platform's pods and each workload's last log lines:
    the cluster is gone by the time anyone reads CI's output."""
    report: pytest.TestReport = yield
    platform = getattr(item, "funcargs", {}).get("deployed")
    if report.failed and call.when == "call" and isinstance(platform, Deployed):
        report.sections.append(("the platform when the test failed", platform.diagnostics()))
    return report


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


@pytest.fixture(scope="session")
def deployed(local_cluster: LocalCluster) -> Iterator[Deployed]:
    """The platform, deployed by `flightctl up` on the test cluster with the API doubles as
    OpenSky and Telegram. At the end: `flightctl down` (unless a test did it), the doubles'
    namespace deleted, FLIGHTCTL_HOME removed."""
    # A platform left on this test-only cluster (`k8s-local.sh deploy`, an aborted session)
    # holds Secrets from another FLIGHTCTL_HOME: its volumes would not know this run's
    # database passwords. Each session deploys from scratch.
    for leftover in (NAMESPACE, DOUBLES):
        local_cluster.kubectl("delete", "namespace", leftover, "--ignore-not-found", "--wait=true", timeout=300)
    # The harness stands in for the registry: the third-party images, and the doubles' image.
    local_cluster.images("doubles")
    local_cluster.load(*standin_images(), doubles_image())
    home = Path(tempfile.mkdtemp(prefix="flightctl-cluster-test-"))
    env = up_environment(home)
    platform = Deployed(local_cluster, home, env, status={}, token="", up_seconds=0.0)
    try:
        local_cluster.kubectl("apply", "-f", "-", input=doubles_manifest(doubles_image()))
        for name in ("opensky", "telegram"):
            platform.wait_rollout("deployment", name, namespace=DOUBLES, timeout=120)
        started = time.monotonic()
        up = platform.flightctl(*up_command(local_cluster))
        platform.up_seconds = time.monotonic() - started
        platform.status = json.loads(up.stdout)
        platform.token = platform.flightctl("--context", "cluster", "auth", "token").stdout.strip()
        yield platform
    finally:
        try:
            if local_cluster.kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0:
                platform.flightctl("--context", "cluster", "down", "--purge", check=False)
            # No forward outlives the session, whatever happened to `down`.
            platform.flightctl("--context", "cluster", "port-forward", "stop", check=False)
            local_cluster.kubectl("delete", "namespace", DOUBLES, "--ignore-not-found", "--wait=true", timeout=300)
        finally:
            shutil.rmtree(home, ignore_errors=True)
