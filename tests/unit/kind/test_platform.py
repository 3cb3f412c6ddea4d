"""The Kind lifecycle, driven by a RecordingRunner: which commands run, in which order, and
what happens when a prerequisite is missing, the cluster exists, or a rollout fails."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from flightctl import deploy
from flightctl.errors import PREREQUISITE, FlightctlError, PrerequisiteMissing, UsageError
from flightctl.kind import layout
from flightctl.kind import secrets as secret_values
from flightctl.kind.platform import BuildOptions, ClusterPlatform, KindPlatform
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.platform.layout import SERVICES, Home

DEPLOY = deploy.root()
KUBECTL = ["kubectl", "--context", "kind-flightctl"]
IMAGES = " ".join(f"flightctl/{service}:dev" for service in SERVICES)


def platform(home: Home, runner: RecordingRunner, wheelhouse: Path | None = None, **kwargs: object) -> ClusterPlatform:
    return KindPlatform(home, runner, lambda _message: None, build=BuildOptions(wheelhouse=wheelhouse), **kwargs)  # type: ignore[arg-type]


def index_of(commands: list[str], prefix: str) -> int:
    matches = [i for i, command in enumerate(commands) if command.startswith(prefix)]
    assert len(matches) == 1, f"expected one command starting with {prefix!r}, got {matches} in\n" + "\n".join(commands)
    return matches[0]


def test_up_creates_builds_loads_applies_and_waits_in_order(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[(*KUBECTL, "-n", "flightctl", "create", "secret", "generic")] = Completed(0, "kind: Secret\n")
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(0, '{"items": []}')
    platform(home, runner, wheelhouse).up({}, tmp_path, timeout=42)
    commands = runner.commands()

    order = [
        "docker info",
        "docker buildx version",
        "kind get clusters",
        f"kind create cluster --name flightctl --config {DEPLOY}/kubernetes/kind/cluster.yaml",
        *(
            f"env DOCKER_BUILDKIT=1 docker build --network=none --target {service} -t flightctl/{service}:dev "
            f"{home.root}/kind/build"
            for service in SERVICES
        ),
        f"kind load docker-image {IMAGES} --name flightctl",
        "kubectl --context kind-flightctl create namespace flightctl --dry-run=client -o yaml",
        "kubectl --context kind-flightctl -n flightctl create secret generic flightctl-secrets "
        f"--from-env-file={home.root}/kind/secrets.env --dry-run=client -o yaml",
        "kubectl --context kind-flightctl -n flightctl create secret tls flightctl-tls "
        f"--cert={home.root}/kind/certs/gateway.crt --key={home.root}/kind/certs/gateway.key",
        "kubectl --context kind-flightctl -n flightctl delete job kafka-topics --ignore-not-found",
        f"kubectl --context kind-flightctl apply -k {DEPLOY}/kubernetes/overlays/kind",
        "kubectl --context kind-flightctl -n flightctl rollout status statefulset/postgres --timeout=42s",
        "kubectl --context kind-flightctl -n flightctl rollout status statefulset/kafka --timeout=42s",
        "kubectl --context kind-flightctl -n flightctl wait --for=condition=complete job/kafka-topics --timeout=42s",
        "kubectl --context kind-flightctl -n flightctl rollout status deployment/prometheus --timeout=42s",
        "kubectl --context kind-flightctl -n flightctl rollout status deployment/gateway --timeout=42s",
        *(
            f"kubectl --context kind-flightctl -n flightctl rollout status deployment/{service} --timeout=42s"
            for service in SERVICES
        ),
    ]
    positions = [index_of(commands, prefix) for prefix in order]
    assert positions == sorted(positions), "commands ran out of order"
    assert not any("rollout restart" in command for command in commands), "a new cluster needs no restart"
    assert not any("ingress-nginx" in command for command in commands), "no ingress controller unless asked"
    assert not any("port-forward" in command for command in commands), "Kind publishes the gateway's NodePort"

    # The generated Secret is piped into kubectl apply, and its values never reach a command line.
    secret_create = index_of(commands, "kubectl --context kind-flightctl -n flightctl create secret generic")
    assert runner.calls[secret_create + 1] == [*KUBECTL, "apply", "-f", "-"]
    assert runner.inputs[secret_create + 1] == "kind: Secret\n"
    values = secret_values.read(layout.secrets_file(home))
    assert set(values) == set(secret_values.REQUIRED)
    assert stat.S_IMODE(layout.secrets_file(home).stat().st_mode) == 0o600
    for value in values.values():
        assert not any(value in command for command in commands)
    assert (home.root / "kind" / "certs" / "gateway.crt").is_file()
    # The build context came from this installation, with the wheelhouse's wheels.
    build = home.root / "kind" / "build"
    assert (build / "Dockerfile").read_text() == deploy.path("Dockerfile").read_text()
    assert sorted(p.name for p in (build / "wheels").iterdir()) == sorted(p.name for p in wheelhouse.iterdir())


def test_multi_node_uses_its_cluster_config_and_overlay(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[(*KUBECTL, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    platform(home, runner, wheelhouse).up({}, tmp_path, multi_node=True, ingress=False)
    commands = runner.commands()
    index_of(commands, f"kind create cluster --name flightctl --config {DEPLOY}/kubernetes/kind/cluster-multinode.yaml")
    index_of(commands, f"kubectl --context kind-flightctl apply -k {DEPLOY}/kubernetes/overlays/kind-multinode")
    assert not any("ingress-nginx" in command for command in commands), "--no-ingress installs no controller"


def test_ingress_installs_the_vendored_controller_and_adds_the_component(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[(*KUBECTL, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    platform(home, runner, wheelhouse).up({}, tmp_path, ingress=True, timeout=9)
    commands = runner.commands()
    generated = home.root / "kind" / "kustomize"
    order = [
        f"kubectl --context kind-flightctl apply -k {DEPLOY}/kubernetes/vendor/ingress-nginx",
        "kubectl --context kind-flightctl -n ingress-nginx rollout status deployment/ingress-nginx-controller "
        "--timeout=9s",
        "kubectl --context kind-flightctl -n ingress-nginx wait --for=condition=complete "
        "job/ingress-nginx-admission-patch --timeout=9s",
        "kubectl --context kind-flightctl create namespace flightctl",
        f"kubectl --context kind-flightctl apply -k {generated}",
    ]
    positions = [index_of(commands, prefix) for prefix in order]
    assert positions == sorted(positions)
    kustomization = (generated / "kustomization.yaml").read_text()
    assert "  - ../../../../../" in kustomization, "kustomize takes relative paths only"
    resolved = [(generated / line.strip()[2:]).resolve() for line in kustomization.splitlines() if "- ../" in line]
    assert resolved == [
        (DEPLOY / "kubernetes" / "overlays" / "kind").resolve(),
        (DEPLOY / "kubernetes" / "components" / "ingress-nginx").resolve(),
    ]


def test_an_existing_cluster_is_reused_and_its_services_restarted(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[("kind", "get", "clusters")] = Completed(0, "other\nflightctl\n")
    runner.script[("kind", "get", "nodes")] = Completed(0, "flightctl-control-plane\n")
    runner.script[(*KUBECTL, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    platform(home, runner, wheelhouse).up({}, tmp_path)
    commands = runner.commands()
    assert not any(command.startswith("kind create cluster") for command in commands)
    restart = index_of(commands, "kubectl --context kind-flightctl -n flightctl rollout restart deployment --selector")
    assert restart > index_of(commands, f"kubectl --context kind-flightctl apply -k {DEPLOY}/kubernetes/overlays/kind")
    # The certificate was made on this run: the gateway reads it at start, so it restarts too.
    index_of(commands, "kubectl --context kind-flightctl -n flightctl rollout restart deployment/gateway")

    runner.calls.clear()
    platform(home, runner, wheelhouse).up({}, tmp_path)  # the same certificate: the gateway keeps running
    assert not any("rollout restart deployment/gateway" in command for command in runner.commands())


def test_a_kind_cluster_without_the_gateways_port_is_refused(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[("kind", "get", "clusters")] = Completed(0, "flightctl\n")
    runner.script[("kind", "get", "nodes")] = Completed(0, "flightctl-control-plane\n")
    runner.script[("docker", "port")] = Completed(
        1, "", "Error: No public port '30443/tcp' published for flightctl-control-plane"
    )
    with pytest.raises(UsageError, match=r"created by an older flightctl\); recreate it"):
        platform(home, runner, wheelhouse).up({}, tmp_path)
    assert runner.commands()[-1] == "docker port flightctl-control-plane 30443/tcp"


def test_an_existing_cluster_of_another_shape_is_refused(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[("kind", "get", "clusters")] = Completed(0, "flightctl\n")
    runner.script[("kind", "get", "nodes")] = Completed(0, "flightctl-control-plane\n")
    with pytest.raises(UsageError, match="exists with 1 node"):
        platform(home, runner, wheelhouse).up({}, tmp_path, multi_node=True)
    assert not any("build" in call for call in runner.calls)


@pytest.mark.parametrize("missing", [{"docker"}, {"kind"}, {"docker", "kind"}])
def test_missing_docker_or_kind_is_a_prerequisite_error_with_a_hint(
    home: Home, tmp_path: Path, missing: set[str]
) -> None:
    runner = RecordingRunner(programs={"docker", "kind", "kubectl"} - missing)
    with pytest.raises(PrerequisiteMissing) as error:
        platform(home, runner).up({}, tmp_path)
    assert error.value.exit_code == PREREQUISITE == 5
    for program in missing:
        assert program in error.value.message
    assert "install" in error.value.message
    assert runner.calls == [], "nothing runs when a prerequisite is missing"


def test_a_stopped_docker_engine_is_a_prerequisite_error(home: Home, runner: RecordingRunner, tmp_path: Path) -> None:
    runner.script[("docker", "info")] = Completed(
        1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"
    )
    with pytest.raises(PrerequisiteMissing, match="Cannot connect to the Docker daemon"):
        platform(home, runner).up({}, tmp_path)
    assert runner.commands() == ["docker info --format '{{.ServerVersion}}'"]


@pytest.mark.parametrize(
    ("client", "usable"),
    [("28.2.2", False), ("23.0.0", False), ("20.10.24+dfsg1", True)],
)
def test_buildkit_is_required_before_anything_is_built(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path, client: str, usable: bool
) -> None:
    """Without the buildx plugin only a docker CLI older than 23 has BuildKit (built in, on with
    DOCKER_BUILDKIT=1); a newer one would fall back to the legacy builder, which cannot build
    the Dockerfile's RUN --mount."""
    runner.script[("docker", "buildx")] = Completed(1, "", "docker: 'buildx' is not a docker command.")
    runner.script[("docker", "version")] = Completed(0, client + "\n")
    runner.script[(*KUBECTL, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    if usable:
        platform(home, runner, wheelhouse).up({}, tmp_path)
        assert any(command.startswith("env DOCKER_BUILDKIT=1 docker build") for command in runner.commands())
        return
    with pytest.raises(PrerequisiteMissing, match=f"docker {client} has no BuildKit.*FLIGHTCTL_DOCKER"):
        platform(home, runner, wheelhouse).up({}, tmp_path)
    assert runner.commands()[-1] == "docker version --format '{{.Client.Version}}'"
    assert not any("kind" in call for call in runner.calls)


def test_the_docker_cli_and_the_python_image_can_be_chosen(home: Home, tmp_path: Path, wheelhouse: Path) -> None:
    runner = RecordingRunner(programs={"/usr/bin/docker", "kind", "kubectl"})
    runner.script[(*KUBECTL, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    build = BuildOptions.from_environ(
        {"FLIGHTCTL_DOCKER": "/usr/bin/docker", "FLIGHTCTL_PYTHON_IMAGE": "ignored:when-given"},
        python_image="local/python:3.11-bookworm",
        wheelhouse=wheelhouse,
    )
    KindPlatform(home, runner, lambda _m: None, build=build).up({}, tmp_path)
    commands = runner.commands()
    assert commands[:2] == ["/usr/bin/docker info --format '{{.ServerVersion}}'", "/usr/bin/docker buildx version"]
    builds = [command for command in commands if " build " in command]
    assert builds == [
        f"env DOCKER_BUILDKIT=1 /usr/bin/docker build --network=none --target {service} -t flightctl/{service}:dev "
        f"--build-arg PYTHON_IMAGE=local/python:3.11-bookworm {home.root}/kind/build"
        for service in SERVICES
    ]
    assert BuildOptions.from_environ({"FLIGHTCTL_PYTHON_IMAGE": "from/env:1"}).python_image == "from/env:1"
    assert BuildOptions.from_environ({}) == BuildOptions()


class PipStandIn(RecordingRunner):
    """Records like RecordingRunner; `pip download` writes the wheels it was asked for, as pip would."""

    def run(self, argv, *, input=None, stream=False, timeout=None):  # type: ignore[no-untyped-def,override]
        if list(argv[1:4]) == ["-m", "pip", "download"]:
            dest = Path(argv[argv.index("--dest") + 1])
            for pin in (arg for arg in argv if "==" in arg):
                name, _, version = pin.partition("==")
                (dest / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
        return super().run(argv, input=input, stream=stream, timeout=timeout)


def test_missing_wheels_are_downloaded_into_the_wheelhouse_first(home: Home, tmp_path: Path, wheelhouse: Path) -> None:
    taken = sorted(wheelhouse.iterdir())[:2]
    for wheel in taken:
        wheel.unlink()
    runner = PipStandIn()
    runner.script[(*KUBECTL, "-n", "flightctl", "get")] = Completed(0, '{"items": []}')
    platform(home, runner, wheelhouse).up({}, tmp_path)
    commands = runner.commands()
    download = next(i for i, call in enumerate(runner.calls) if call[1:4] == ["-m", "pip", "download"])
    call = runner.calls[download]
    assert {"--only-binary=:all:", "--no-deps"} <= set(call)
    assert call[call.index("--python-version") + 1] == "3.11"
    assert call[call.index("--dest") + 1] == str(wheelhouse)
    assert [arg for arg in call if "==" in arg] == sorted(
        f"{w.name.split('-')[0].replace('_', '-')}=={w.name.split('-')[1]}" for w in taken
    )
    assert download < index_of(commands, "env DOCKER_BUILDKIT=1 docker build --network=none --target user-manager")
    assert sorted(p.name for p in (home.root / "kind" / "build" / "wheels").iterdir()) == sorted(
        p.name for p in wheelhouse.iterdir()
    )

    # A download that brings nothing leaves the build context unwritten, and says what is missing.
    (sorted(wheelhouse.iterdir())[0]).unlink()
    with pytest.raises(FlightctlError, match="has no wheel for the image"):
        platform(home, RecordingRunner(), wheelhouse).up({}, tmp_path)


def pods(*statuses: dict[str, object]) -> str:
    return json.dumps(
        {"items": [{"metadata": {"name": f"pod-{i}"}, "status": status} for i, status in enumerate(statuses)]}
    )


def test_a_failed_rollout_names_the_workload_and_the_pods_reason(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    runner.script[(*KUBECTL, "-n", "flightctl", "rollout", "status", "deployment/data-collector")] = Completed(
        1, "", 'error: deployment "data-collector" exceeded its progress deadline'
    )
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "pods", "-l", "app=data-collector")] = Completed(
        0,
        pods(
            {
                "containerStatuses": [
                    {
                        "name": "server",
                        "ready": False,
                        "state": {
                            "waiting": {
                                "reason": "ErrImageNeverPull",
                                "message": 'Container image "flightctl/data-collector:dev" is not present',
                            }
                        },
                    }
                ]
            }
        ),
    )
    with pytest.raises(FlightctlError) as error:
        platform(home, runner, wheelhouse).up({}, tmp_path, timeout=30)
    message = error.value.message
    assert message.startswith("deployment/data-collector did not become ready within 30s")
    assert "pod pod-0 container server: ErrImageNeverPull" in message
    assert "is not present" in message
    # It stopped there: the services after it were not waited for.
    assert not any("deployment/alert-system" in command for command in runner.commands())


def test_diagnosis_reports_crash_loops_and_unschedulable_pods(home: Home, runner: RecordingRunner) -> None:
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "pods")] = Completed(
        0,
        pods(
            {
                "containerStatuses": [
                    {
                        "name": "kafka",
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                    }
                ]
            },
            {
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/1 nodes are available: 1 Insufficient memory.",
                    }
                ]
            },
        ),
    )
    reason = platform(home, runner).diagnose("statefulset", "kafka", "flightctl")
    assert "pod pod-0 container kafka: CrashLoopBackOff (back-off 40s), last exit 137 (OOMKilled)" in reason
    assert "pod pod-1 is not scheduled: Unschedulable (0/1 nodes are available: 1 Insufficient memory.)" in reason
    assert runner.calls[-1] == [*KUBECTL, "-n", "flightctl", "get", "pods", "-l", "app=kafka", "-o", "json"]


def test_dry_run_runs_nothing_and_writes_nothing(home: Home, tmp_path: Path, wheelhouse: Path) -> None:
    runner = RecordingRunner()
    printed: list[str] = []
    platform(home, runner, wheelhouse, dry_run=True, echo=printed.append).up({}, tmp_path)
    assert runner.calls == []
    assert not home.root.exists()
    assert printed[:4] == [
        "docker info --format '{{.ServerVersion}}'",
        "docker buildx version",
        "kind get clusters",
        f"kind create cluster --name flightctl --config {DEPLOY}/kubernetes/kind/cluster.yaml",
    ]
    secret = next(line for line in printed if "create secret generic" in line)
    assert secret.endswith("--dry-run=client -o yaml | kubectl --context kind-flightctl apply -f -")
    assert not any("pip" in line for line in printed), "the wheelhouse has every wheel: nothing to download"


def test_down_deletes_the_cluster_and_purge_removes_the_generated_state(home: Home, runner: RecordingRunner) -> None:
    layout.kind_dir(home).mkdir(parents=True)
    secret_values.write(layout.secrets_file(home), {"API_TOKEN": "t"})
    runner.script[("kind", "get", "clusters")] = Completed(0, "flightctl\n")
    assert platform(home, runner).down() == ["kind cluster flightctl"]
    assert runner.commands() == ["kind get clusters", "kind delete cluster --name flightctl"]
    assert layout.secrets_file(home).exists(), "without --purge the token and passwords are kept"

    runner.script[("kind", "get", "clusters")] = Completed(0, "")
    assert platform(home, runner).down(purge=True) == []
    assert runner.commands()[-1] == "kind get clusters", "no cluster: nothing to delete"
    assert not layout.kind_dir(home).exists()


def test_status_reports_readiness_and_urls(home: Home, runner: RecordingRunner) -> None:
    items = [
        {"metadata": {"name": "user-manager"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2}},
        {"metadata": {"name": "data-collector"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}},
        {"metadata": {"name": "kafka"}, "spec": {"replicas": 1}, "status": {"readyReplicas": 1}},
    ]
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(
        0, json.dumps({"items": items})
    )
    status = platform(home, runner).status()
    assert status["mode"] == "kind"
    assert (status["gateway"], status["gateway_http"]) == ("https://127.0.0.1", "http://127.0.0.1")
    assert status["services"]["user-manager"] == {
        "url": "https://127.0.0.1/user-manager",
        "gateway_url": "https://127.0.0.1/user-manager",
        "healthy": True,
    }, "no restarts shown when the pods cannot be listed"
    assert status["services"]["data-collector"]["healthy"] is False
    assert status["services"]["alert-system"] == {"url": None, "gateway_url": None, "healthy": False}
    assert status["workloads"]["kafka"] is True


def test_status_reports_each_service_pods_restarts_and_the_last_exit(home: Home, runner: RecordingRunner) -> None:
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(0, '{"items": []}')

    def pod(app: str, *containers: dict[str, object]) -> dict[str, object]:
        return {"metadata": {"labels": {"app": app}}, "status": {"containerStatuses": list(containers)}}

    def ended(reason: str, code: int, at: str) -> dict[str, object]:
        return {"terminated": {"reason": reason, "exitCode": code, "finishedAt": at}}

    pods = [
        pod("data-collector", {"restartCount": 1, "lastState": ended("Error", 1, "2026-12-02T15:00:00Z")}),
        pod("data-collector", {"restartCount": 2, "lastState": ended("OOMKilled", 137, "2026-12-02T15:05:00Z")}),
        pod("user-manager", {"restartCount": 0, "lastState": {}}),
        pod("kafka", {"restartCount": 3, "lastState": ended("Error", 143, "2026-12-02T15:09:00Z")}),
        {"metadata": {"labels": {}}, "status": {}},  # a pod of no workload (a test's own) is left out
    ]
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "pods")] = Completed(0, json.dumps({"items": pods}))
    services = platform(home, runner).status()["services"]
    assert (services["data-collector"]["restarts"], services["data-collector"]["last_exit"]) == (
        3,
        "OOMKilled (exit code 137)",
    ), "the restarts of every replica; the exit of the one restarted last"
    assert (services["user-manager"]["restarts"], services["user-manager"]["last_exit"]) == (0, None)
    assert (services["alert-system"]["restarts"], services["alert-system"]["last_exit"]) == (0, None), "no pod yet"


def test_status_without_a_cluster_says_how_to_start_it(home: Home, runner: RecordingRunner) -> None:
    runner.script[("kubectl",)] = Completed(1, "", 'error: context "kind-flightctl" does not exist')
    with pytest.raises(FlightctlError, match=r"does not exist; start it with `flightctl up --kind`"):
        platform(home, runner).status()


def test_settings_from_the_environment_become_the_config_map(
    home: Home, runner: RecordingRunner, tmp_path: Path, wheelhouse: Path
) -> None:
    create = "kubectl --context kind-flightctl -n flightctl create configmap flightctl-settings "
    delete = "kubectl --context kind-flightctl -n flightctl delete configmap flightctl-settings --ignore-not-found"
    runner.script[(*KUBECTL, "-n", "flightctl", "create", "configmap")] = Completed(0, "kind: ConfigMap\n")
    runner.script[(*KUBECTL, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(0, '{"items": []}')

    platform(home, runner, wheelhouse).up(
        {"COLLECT_INTERVAL_SECONDS": "60", "TELEGRAM_BOT_TOKEN": "b:t"}, tmp_path, timeout=5
    )
    commands = runner.commands()
    position = index_of(commands, create)
    assert commands[position] == create + f"--from-env-file={home.root}/kind/settings.env --dry-run=client -o yaml"
    assert runner.calls[position + 1] == [*KUBECTL, "apply", "-f", "-"]
    assert position < index_of(commands, f"kubectl --context kind-flightctl apply -k {DEPLOY}/kubernetes/overlays/kind")
    assert layout.settings_file(home).read_text() == "COLLECT_INTERVAL_SECONDS=60\n"  # no secret in it
    assert delete not in commands

    runner.calls.clear()
    platform(home, runner, wheelhouse).up({}, tmp_path, timeout=5)  # nothing set any more: the ConfigMap goes
    commands = runner.commands()
    assert delete in commands and not any(c.startswith(create) for c in commands)


def test_versions_name_the_gateways_nginx(home: Home, runner: RecordingRunner) -> None:
    versions = platform(home, runner).component_versions()
    assert versions["nginx"] == {"version": "1.28.0", "source": "nginxinc/nginx-unprivileged:1.28.0-alpine"}
    assert versions["kafka"]["version"] == "4.1.1"
