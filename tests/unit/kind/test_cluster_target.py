"""Deploying to an existing cluster (the `cluster` context), driven by a RecordingRunner: the
target's kubectl context and kubeconfig on every command, each image delivery (containerd
import, registry push, kind load), the gateway forwarded at the end, and `down` removing the
namespace, never the cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from flightctl import deploy
from flightctl.errors import FlightctlError, UsageError
from flightctl.kind import layout, portforward
from flightctl.kind.platform import BuildOptions, ClusterPlatform
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.kind.target import Target
from flightctl.platform import proc
from flightctl.platform.layout import SERVICES, Home

DEPLOY = deploy.root()
KUBECONFIG = "/srv/k8s/kubeconfig"
KUBECTL = ("kubectl", "--kubeconfig", KUBECONFIG, "--context", "lab")
K = "kubectl --kubeconfig /srv/k8s/kubeconfig --context lab"
IMAGES = [f"flightctl/{service}:dev" for service in SERVICES]


def platform(
    home: Home, runner: RecordingRunner, target: Target, wheelhouse: Path, **kwargs: object
) -> ClusterPlatform:
    return ClusterPlatform(
        home,
        runner,
        lambda _m: None,
        target=target,
        build=BuildOptions(wheelhouse=wheelhouse),
        **kwargs,  # type: ignore[arg-type]
    )


def containerd(**options: str) -> Target:
    return Target.cluster("lab", kubeconfig=KUBECONFIG, image_load="containerd", **options)


def ready(runner: RecordingRunner, *, namespaces: str = "namespace/default\nnamespace/kube-system\n") -> None:
    runner.script[(*KUBECTL, "get", "namespaces")] = Completed(0, namespaces)
    runner.script[(*KUBECTL, "get", "nodes")] = Completed(0, "node/lab-node\n")
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(0, '{"items": []}')


def index_of(commands: list[str], prefix: str) -> int:
    matches = [i for i, command in enumerate(commands) if command.startswith(prefix)]
    assert len(matches) == 1, f"expected one command starting with {prefix!r}, got {matches} in\n" + "\n".join(commands)
    return matches[0]


def test_containerd_import_plan_from_checks_to_the_forwarded_gateway(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    ready(runner)
    target = containerd(containerd_address="/run/lab/containerd.sock")
    status = platform(home, runner, target, wheelhouse).up({}, tmp_path, timeout=7)
    assert status is not None
    commands = runner.commands()
    state = home.root / "cluster" / "lab"
    order = [
        "docker info",
        "docker buildx version",
        f"{K} get namespaces -o name",
        f"{K} get nodes -o name",
        *(
            f"env DOCKER_BUILDKIT=1 docker build --network=none --target {s} -t flightctl/{s}:dev {state}/build"
            for s in SERVICES
        ),
        "docker save " + " ".join(IMAGES) + " | ctr --address /run/lab/containerd.sock --namespace k8s.io images "
        "import -",
        f"{K} create namespace flightctl --dry-run=client -o yaml",
        f"{K} -n flightctl create secret generic flightctl-secrets --from-env-file={state}/secrets.env",
        f"{K} -n flightctl create secret tls flightctl-tls --cert={state}/certs/gateway.crt",
        f"{K} -n flightctl delete job kafka-topics --ignore-not-found",
        f"{K} apply -k {DEPLOY}/kubernetes/overlays/cluster",
        f"{K} -n flightctl rollout status statefulset/postgres --timeout=7s",
        f"{K} -n flightctl rollout status deployment/gateway --timeout=7s",
        f"{K} -n flightctl rollout status deployment/sla-breach-detector --timeout=7s",
        f"{K} -n flightctl port-forward --address 127.0.0.1 svc/gateway ",
    ]
    positions = [index_of(commands, prefix) for prefix in order]
    assert positions == sorted(positions), "commands ran out of order"
    assert not any(c.startswith(("kind", "kubectl --context")) for c in commands), "only the target's cluster"
    assert not any("rollout restart" in c for c in commands), "a first deploy needs no restart"
    # One pipe, docker save into ctr: recorded as one call.
    (pipe,) = [call for call in runner.calls if "|" in call]
    assert pipe[: pipe.index("|")] == ["docker", "save", *IMAGES]

    forward = portforward.active(home, "gateway", target)
    assert forward is not None and forward.url == f"https://127.0.0.1:{forward.port}"
    # Another `up` replaces the forward (kubectl forwards to one pod, which may be gone), on the same port.
    runner.calls.clear()
    again = platform(home, runner, target, wheelhouse).up({}, tmp_path, timeout=7)
    assert again is not None and again["gateway"] == forward.url
    renewed = portforward.active(home, "gateway", target)
    assert renewed is not None and renewed.pid != forward.pid and renewed.port == forward.port
    assert not proc.alive(forward.pid)
    forward = renewed
    assert status["mode"] == "cluster" and status["cluster"] == "lab"
    assert status["gateway"] == forward.url
    assert status["gateway_http"] == f"http://127.0.0.1:{forward.port}"
    assert status["services"]["alert-notifier"]["url"] == forward.url + "/notifier"
    assert (state / "secrets.env").is_file() and not (home.root / "kind").exists()
    assert portforward.stop(home, "gateway", target)


def test_a_reused_namespace_restarts_the_services_after_loading_the_same_tags(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    ready(runner, namespaces="namespace/default\nnamespace/flightctl\n")
    platform(home, runner, containerd(), wheelhouse, dry_run=False).up({}, tmp_path)
    commands = runner.commands()
    restart = index_of(commands, f"{K} -n flightctl rollout restart deployment --selector=app.kubernetes.io/component")
    assert restart > index_of(commands, f"{K} apply -k")
    assert "ctr --namespace k8s.io images import -" in commands[index_of(commands, "docker save")]
    portforward.stop_all(home, target=containerd())


def test_a_platform_deployed_from_another_home_keeps_its_secrets_and_its_certificate(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    """`up` from a FLIGHTCTL_HOME that did not deploy the platform (the test cluster showed the
    services locked out of PostgreSQL by newly generated passwords): the deployed Secret's
    values are kept, the gateway's certificate is taken over (no gateway restart), and the
    environment still wins (a rotated API token)."""
    import base64

    from flightctl import config
    from flightctl.kind import secrets as secret_values
    from flightctl.platform.certs import make_self_signed

    def secret(data: dict[str, bytes]) -> Completed:
        return Completed(0, json.dumps({"data": {k: base64.b64encode(v).decode() for k, v in data.items()}}))

    theirs = {key: f"{key.lower()}-deployed" for key in config.GENERATED_SECRETS}
    cert, key = make_self_signed(tmp_path / "their-home")
    ready(runner, namespaces="namespace/default\nnamespace/flightctl\n")
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "secret", "flightctl-secrets")] = secret(
        {k: v.encode() for k, v in theirs.items()}
    )
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "secret", "flightctl-tls")] = secret(
        {"tls.crt": cert.read_bytes(), "tls.key": key.read_bytes()}
    )
    target = containerd()
    state = target.state_dir(home)
    platform(home, runner, target, wheelhouse).up({}, tmp_path)
    assert secret_values.read(state / "secrets.env") == theirs
    assert (state / "certs" / "gateway.crt").read_bytes() == cert.read_bytes()
    assert (state / "certs" / "gateway.key").stat().st_mode & 0o777 == 0o600
    commands = runner.commands()
    assert index_of(commands, f"{K} -n flightctl get secret flightctl-secrets") < index_of(
        commands, f"{K} -n flightctl create secret generic flightctl-secrets"
    )
    assert not any("rollout restart deployment/gateway" in c for c in commands), "the gateway keeps its certificate"

    runner.calls.clear()
    platform(home, runner, target, wheelhouse).up({"API_TOKEN": "rotated"}, tmp_path)
    assert secret_values.read(state / "secrets.env") == {**theirs, "API_TOKEN": "rotated"}
    portforward.stop_all(home, target=target)


def test_containerd_import_reaches_one_node_only(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    ready(runner)
    runner.script[(*KUBECTL, "get", "nodes")] = Completed(0, "node/a\nnode/b\nnode/c\n")
    with pytest.raises(UsageError, match="has 3: use --registry"):
        platform(home, runner, containerd(), wheelhouse).up({}, tmp_path)
    assert not any("build" in call for call in runner.calls)


def test_an_unreachable_cluster_stops_before_building(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[(*KUBECTL, "get", "namespaces")] = Completed(1, "", 'error: context "lab" does not exist')
    with pytest.raises(FlightctlError, match='does not answer: error: context "lab" does not exist; check --kube'):
        platform(home, runner, containerd(), wheelhouse).up({}, tmp_path)
    assert not any("build" in call for call in runner.calls)


def test_registry_push_deploys_the_pushed_digests(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    ready(runner, namespaces="namespace/flightctl\n")
    registry = "registry.example.com:5000/team"
    digests = {service: f"sha256:{i:064x}" for i, service in enumerate(SERVICES, start=1)}
    for service, digest in digests.items():
        runner.script[
            ("docker", "image", "inspect", "--format", "{{json .RepoDigests}}", f"{registry}/{service}:dev")
        ] = Completed(0, json.dumps([f"elsewhere/{service}@sha256:{'f' * 64}", f"{registry}/{service}@{digest}"]))
    target = Target.cluster("lab", kubeconfig=KUBECONFIG, registry=registry + "/")
    assert target.image_load == "registry" and target.registry == registry
    platform(home, runner, target, wheelhouse).up({}, tmp_path)
    commands = runner.commands()
    for service in SERVICES:
        tag = index_of(commands, f"docker tag flightctl/{service}:dev {registry}/{service}:dev")
        push = index_of(commands, f"docker push {registry}/{service}:dev")
        assert tag < push < index_of(commands, f"{K} apply -k")
    assert not any("rollout restart deployment --selector" in c for c in commands), "a new digest rolls by itself"
    generated = home.root / "cluster" / "lab" / "kustomize"
    index_of(commands, f"{K} apply -k {generated}")

    # The written kustomization renders: the base, image names rewritten to the pushed digests,
    # pulled (never imagePullPolicy Never), everything else unchanged.
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(generated)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    containers = [
        container
        for doc in yaml.safe_load_all(rendered)
        if doc and doc["kind"] in ("Deployment", "StatefulSet", "Job")
        for container in [
            *doc["spec"]["template"]["spec"].get("initContainers", []),
            *doc["spec"]["template"]["spec"]["containers"],
        ]
    ]
    ours = {c["image"] for c in containers if "/team/" in c["image"]}
    assert ours == {f"{registry}/{service}@{digest}" for service, digest in digests.items()}
    assert not any(c["image"].startswith("flightctl/") for c in containers)
    assert {c.get("imagePullPolicy") for c in containers if c["image"] in ours} == {"IfNotPresent"}
    portforward.stop_all(home, target=target)


def test_a_push_without_a_digest_is_an_error(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    ready(runner)
    runner.script[("docker", "image", "inspect")] = Completed(0, "[]")
    with pytest.raises(FlightctlError, match=r"reports no digest of reg\.local/user-manager"):
        platform(home, runner, Target.cluster("lab", kubeconfig=KUBECONFIG, registry="reg.local"), wheelhouse).up(
            {}, tmp_path
        )


def test_another_kind_cluster_gets_kind_load_with_its_name(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    target = Target.cluster("kind-other")
    prefix = ("kubectl", "--context", "kind-other")
    runner.script[(*prefix, "get", "namespaces")] = Completed(0, "namespace/default\n")
    runner.script[(*prefix, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    platform(home, runner, target, wheelhouse).up({}, tmp_path)
    commands = runner.commands()
    index_of(commands, "kind load docker-image " + " ".join(IMAGES) + " --name other")
    assert not any(c.startswith(("kind create", "kind get")) for c in commands), "never creates a cluster"
    index_of(commands, f"kubectl --context kind-other apply -k {DEPLOY}/kubernetes/overlays/cluster")
    with pytest.raises(UsageError, match="Kind cluster's shape"):
        platform(home, runner, target, wheelhouse).up({}, tmp_path, multi_node=True)
    portforward.stop_all(home, target=target)


def test_ingress_on_an_existing_cluster_adds_the_component_only(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    ready(runner)
    target = containerd()
    platform(home, runner, target, wheelhouse).up({}, tmp_path, ingress=True)
    commands = runner.commands()
    assert not any("vendor/ingress-nginx" in c for c in commands), "the cluster brings its own controller"
    generated = home.root / "cluster" / "lab" / "kustomize"
    index_of(commands, f"{K} apply -k {generated}")
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(generated)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(rendered) if doc}
    assert ("Ingress", "flightctl") in kinds and ("Deployment", "gateway") in kinds
    portforward.stop_all(home, target=target)


def test_dry_run_plans_the_cluster_target_and_writes_nothing(home: Home, tmp_path: Path, wheelhouse: Path) -> None:
    runner = RecordingRunner()
    printed: list[str] = []
    target = Target.cluster("lab", registry="reg.local/x")
    platform(home, runner, target, wheelhouse, dry_run=True, echo=printed.append).up({}, tmp_path, ingress=True)
    assert runner.calls == [] and not home.root.exists()
    assert "docker push reg.local/x/user-manager:dev" in printed
    notes = [line for line in printed if line.startswith("#")]
    assert any(line.endswith('digest: "sha256:<digest of the pushed image>"') for line in notes)
    assert any(line.endswith("newName: reg.local/x/sla-breach-detector") for line in notes)
    assert printed[-1].startswith("# in the background, PORT a free port on 127.0.0.1: kubectl --context lab -n ")
    assert printed[-1].endswith("port-forward --address 127.0.0.1 svc/gateway PORT:443")


def test_down_deletes_the_namespace_not_the_cluster(home: Home, runner: RecordingRunner) -> None:
    target = containerd()
    state = target.state_dir(home)
    state.mkdir(parents=True)
    (state / "secrets.env").write_text("API_TOKEN=t\n")
    layout.kind_dir(home).mkdir(parents=True)
    runner.script[(*KUBECTL, "delete", "namespace")] = Completed(0, 'namespace "flightctl" deleted\n')
    stopped = platform(home, runner, target, home.root).down()
    assert stopped == ["namespace flightctl on lab"]
    assert runner.commands() == [f"{K} delete namespace flightctl --ignore-not-found --wait=true"]
    assert (state / "secrets.env").exists()

    runner.script[(*KUBECTL, "delete", "namespace")] = Completed(0, "")  # already gone
    assert platform(home, runner, target, home.root).down(purge=True) == []
    assert not state.exists()
    assert layout.kind_dir(home).exists(), "another target's state is left alone"
    with pytest.raises(UsageError, match="removed as a whole"):
        platform(home, runner, target, home.root).down(components=["gateway"])


def test_status_of_an_existing_cluster_without_the_gateway_forward(home: Home, runner: RecordingRunner) -> None:
    target = containerd()
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(
        0, json.dumps({"items": [{"metadata": {"name": "gateway"}, "spec": {"replicas": 1}, "status": {}}]})
    )
    status = platform(home, runner, target, home.root).status()
    assert (status["gateway"], status["gateway_http"]) == (None, None)
    assert status["services"]["user-manager"] == {"url": None, "gateway_url": None, "healthy": False}
    assert status["workloads"] == {"gateway": False}
    with pytest.raises(FlightctlError, match="not forwarded to this machine; start it with `flightctl port-forward"):
        platform(home, runner, target, home.root).service_url("user-manager")
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(1, "", "refused")
    with pytest.raises(FlightctlError, match="start it with `flightctl up --kube-context lab`"):
        platform(home, runner, target, home.root).status()


def test_required_tools_follow_the_image_delivery(home: Home) -> None:
    def tools(target: Target) -> frozenset[str]:
        return ClusterPlatform(home, RecordingRunner(), lambda _m: None, target=target).required_tools

    assert tools(Target.kind()) == {"docker", "buildkit", "kubectl", "kind"}
    assert tools(containerd()) == {"docker", "buildkit", "kubectl", "ctr", "containerd", "cluster"}
    assert tools(Target.cluster("lab", registry="r.local")) == {"docker", "buildkit", "kubectl", "cluster"}
    assert tools(Target.cluster("kind-x")) == {"docker", "buildkit", "kubectl", "kind", "cluster"}
