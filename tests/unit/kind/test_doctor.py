"""`flightctl doctor` for the cluster targets: BuildKit, the cluster answering through its kube
context, and this machine's containerd for --image-load containerd, asked through the runner."""

from __future__ import annotations

from pathlib import Path

from flightctl.cli.context import Context
from flightctl.cli.doctor import _buildkit, _cluster, _containerd
from flightctl.kind.platform import buildkit
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.kind.target import Target
from flightctl.platform.layout import Home


def cluster_context(home: Path, runner: RecordingRunner, target: Target) -> Context:
    return Context(home=Home(home), context="cluster", runner=runner, cluster_target=target)


def test_buildkit_is_buildx_or_a_docker_older_than_23() -> None:
    runner = RecordingRunner()
    runner.script[("docker", "buildx", "version")] = Completed(0, "github.com/docker/buildx v0.17.1 257815a\n")
    assert buildkit(runner) == (True, "buildx v0.17.1")
    runner.script[("docker", "buildx", "version")] = Completed(1, "", "unknown command")
    runner.script[("docker", "version")] = Completed(0, "20.10.24+dfsg1\n")
    assert buildkit(runner) == (True, "docker 20.10.24+dfsg1: built-in BuildKit (DOCKER_BUILDKIT=1)")
    # The engine is down, the client still says its version.
    runner.script[("docker", "version")] = Completed(1, "28.2.2\n", "Cannot connect to the Docker daemon")
    ok, found = buildkit(runner)
    assert not ok and found.startswith("docker 28.2.2 has no BuildKit")


def test_doctor_checks_what_the_cluster_target_needs(tmp_path: Path) -> None:
    runner = RecordingRunner()
    target = Target.cluster("lab", kubeconfig="/k", image_load="containerd", containerd_address="/run/c.sock")
    obj = cluster_context(tmp_path, runner, target)
    assert obj.platform().required_tools >= {"cluster", "containerd", "ctr", "buildkit"}

    runner.script[("kubectl",)] = Completed(0, "ok")
    runner.script[("ctr",)] = Completed(0, "Client: 1.6.20\nServer: 1.6.20\n")
    assert _cluster(obj, True).found == "lab: ready"
    assert _containerd(obj, True).found == "/run/c.sock: answers"
    assert runner.commands() == [
        "kubectl --kubeconfig /k --context lab get --raw /readyz",
        "ctr --address /run/c.sock --namespace k8s.io version",
    ]

    runner.script[("kubectl",)] = Completed(1, "", 'error: context "lab" does not exist')
    runner.script[("ctr",)] = Completed(1, "", "ctr: failed to dial: permission denied")
    check = _cluster(obj, True)
    assert (check.ok, check.found) == (False, 'lab: error: context "lab" does not exist')
    assert "--kube-context" in check.fix
    check = _containerd(obj, True)
    assert not check.ok and "permission denied" in check.found and "--containerd-address" in check.fix

    # What the target does not use is not asked.
    calls = len(runner.calls)
    assert _cluster(obj, False).ok and _containerd(obj, False).ok
    assert len(runner.calls) == calls


def test_doctor_buildkit_check_uses_the_chosen_docker(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runner = RecordingRunner()
    runner.script[("/bin/true", "buildx", "version")] = Completed(0, "github.com/docker/buildx v0.12.0 x\n")
    monkeypatch.setenv("FLIGHTCTL_DOCKER", "/bin/true")
    check = _buildkit(cluster_context(tmp_path, runner, Target.cluster("kind-a")), True)
    assert (check.ok, check.found) == (True, "buildx v0.12.0")
    monkeypatch.setenv("FLIGHTCTL_DOCKER", "/no/such/docker")
    assert not _buildkit(cluster_context(tmp_path, runner, Target.cluster("kind-a")), True).ok
