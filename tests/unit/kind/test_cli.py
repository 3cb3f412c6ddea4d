"""The kind commands through the real CLI (typer's CliRunner), with the RecordingRunner
behind them (handed to the CLI as its Dependencies)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flightctl import deploy
from flightctl.cli.context import Dependencies
from flightctl.cli.main import app, hoist_global_options
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.platform.layout import SERVICES

DEPLOY = deploy.root()


def invoke(home: Path, *args: str, runner: RecordingRunner | None = None) -> tuple[int, str, str]:
    """Exit code, stdout, stderr, as `flightctl` gives them (global options hoisted), with
    ``runner`` running docker, kind and kubectl."""
    argv = hoist_global_options(["--home", str(home), *args])
    result = CliRunner().invoke(app, argv, obj=Dependencies(runner=runner or RecordingRunner()))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def error_line(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("error: ")]
    return line.removeprefix("error: ")


def test_up_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    runner = RecordingRunner(programs=set())  # not even installed: a dry run still plans
    code, out, err = invoke(tmp_path / "home", "up", "--dry-run", "--multi-node", runner=runner)
    assert code == 0, err
    assert runner.calls == []
    assert not (tmp_path / "home").exists()
    lines = out.splitlines()
    commands = [line for line in lines if not line.startswith("#")]
    assert commands[:4] == [
        "docker info --format '{{.ServerVersion}}'",
        "docker buildx version",
        "kind get clusters",
        f"kind create cluster --name flightctl --config {DEPLOY}/kubernetes/kind/cluster-multinode.yaml",
    ]
    builds = [line for line in commands if " build " in line]
    assert builds == [
        f"env DOCKER_BUILDKIT=1 docker build --network=none --target {s} -t flightctl/{s}:dev "
        f"{tmp_path}/home/kind/build"
        for s in SERVICES
    ]
    assert commands[-1] == (
        "kubectl --context kind-flightctl -n flightctl rollout status deployment/sla-breach-detector --timeout=600s"
    )
    assert f"kubectl --context kind-flightctl apply -k {DEPLOY}/kubernetes/overlays/kind-multinode" in commands
    assert any(line.startswith("# write ") and "secrets.env" in line for line in lines)
    assert "missing prerequisites docker, kind, kubectl" in err, "the plan says what is missing"


def test_up_with_missing_kind_exits_5_with_an_install_hint(tmp_path: Path) -> None:
    runner = RecordingRunner(programs={"docker", "kubectl"})
    code, _out, err = invoke(tmp_path / "home", "up", "--kind", runner=runner)
    assert code == 5
    message = error_line(err)
    assert "kind" in message and "install kind" in message
    assert runner.calls == []


def test_context_kind_selects_the_cluster(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.script[("kind", "get", "clusters")] = Completed(0, "flightctl\n")
    code, _out, err = invoke(tmp_path / "home", "--context", "kind", "down", runner=runner)
    assert code == 0, err
    assert runner.commands() == ["kind get clusters", "kind delete cluster --name flightctl"]
    assert "stopped: kind cluster flightctl" in err


def test_a_failed_rollout_exits_1_naming_workload_and_reason(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.script[("kubectl", "--context", "kind-flightctl", "-n", "flightctl", "rollout", "status")] = Completed(
        1, "", "timed out"
    )
    runner.script[("kubectl", "--context", "kind-flightctl", "-n", "flightctl", "get", "pods")] = Completed(
        0,
        json.dumps(
            {
                "items": [
                    {
                        "metadata": {"name": "postgres-0"},
                        "status": {
                            "containerStatuses": [
                                {
                                    "name": "postgres",
                                    "state": {
                                        "waiting": {
                                            "reason": "CreateContainerConfigError",
                                            "message": 'secret "flightctl-secrets" not found',
                                        }
                                    },
                                }
                            ]
                        },
                    }
                ]
            }
        ),
    )
    code, _out, err = invoke(tmp_path / "home", "up", "--kind", "--timeout", "5", runner=runner)
    assert code == 1
    message = error_line(err)
    assert message.startswith("statefulset/postgres did not become ready within 5s")
    assert 'CreateContainerConfigError (secret "flightctl-secrets" not found)' in message


def test_port_forward_start_list_stop(tmp_path: Path, runner: RecordingRunner) -> None:
    home = tmp_path / "home"
    code, out, err = invoke(home, "port-forward", "start", "data-collector", "-o", "json", runner=runner)
    assert code == 0, err
    started = json.loads(out)
    assert started["service"] == "data-collector"
    assert started["url"] == f"http://127.0.0.1:{started['port']}"
    (process,) = runner.started
    assert started["pid"] == process.pid

    code, out, _err = invoke(home, "port-forward", "list", "-o", "json", runner=runner)
    assert code == 0
    assert json.loads(out) == [started]

    code, _out, err = invoke(home, "port-forward", "stop", runner=runner)
    assert code == 0
    assert "stopped: data-collector" in err
    code, out, _err = invoke(home, "port-forward", "list", "-o", "json", runner=runner)
    assert json.loads(out) == []


def test_dry_run_is_for_the_cluster_only(tmp_path: Path) -> None:
    code, _out, err = invoke(tmp_path / "home", "up", "--local", "--dry-run")
    assert code == 2
    assert "kind cluster only" in error_line(err)


def test_plain_up_means_kind_unless_a_context_was_chosen(tmp_path: Path, runner: RecordingRunner) -> None:
    # `flightctl up` creates the Kind cluster; here kind is missing: exit 5.
    runner.programs.discard("kind")
    code, _out, err = invoke(tmp_path / "home", "up", runner=runner)
    assert code == 5 and "install kind" in error_line(err)

    # A context chosen with `flightctl context use` (or --context) is respected.
    home = tmp_path / "chosen"
    assert invoke(home, "context", "use", "local", runner=runner)[0] == 0
    code, _out, err = invoke(home, "up", "--multi-node", runner=runner)
    assert code == 5, "--multi-node still means the cluster"
    code, _out, err = invoke(home, "down", runner=runner)
    assert code == 0 and "nothing was running" in err  # the local platform, not the cluster
    assert runner.commands() == []


def test_plain_down_stops_the_platform_this_home_has(tmp_path: Path, runner: RecordingRunner) -> None:
    from flightctl.platform.layout import Home, State

    runner.script[("kind", "get", "clusters")] = Completed(0, "")
    code, _out, err = invoke(tmp_path / "none", "down", runner=runner)
    assert code == 0 and runner.commands() == ["kind get clusters"]  # no local platform: the cluster

    home = Home(tmp_path / "local")
    home.root.mkdir()
    home.save_state(State(port_base=29400, api_token="t", postgres_password="p", kafka_cluster_id="c"))
    code, _out, err = invoke(home.root, "down", runner=runner)
    assert code == 0 and "nothing was running" in err
    assert runner.commands() == ["kind get clusters"]  # unchanged: the local platform was chosen

    runner.programs.discard("kind")  # no local platform and no kind: nothing to stop, no error
    code, _out, err = invoke(tmp_path / "none", "down", runner=runner)
    assert code == 0 and "nothing was running" in err


def test_logs_in_the_kind_context_come_from_kubectl(tmp_path: Path, runner: RecordingRunner) -> None:
    command = (*["kubectl", "--context", "kind-flightctl", "-n", "flightctl", "logs", "deployment/alert-system"],)
    runner.script[command] = Completed(0, "line 1\nline 2\n")
    code, out, err = invoke(tmp_path / "home", "--context", "kind", "logs", "alert-system", "-n", "2", runner=runner)
    assert code == 0, err
    assert out == "line 1\nline 2\n"
    assert runner.commands() == [" ".join(command) + " --all-containers --tail=2"]

    runner.script[command] = Completed(1, "", 'error: deployments.apps "alert-system" not found')
    code, _out, err = invoke(tmp_path / "home", "--context", "kind", "logs", "alert-system", runner=runner)
    assert code == 1 and 'kubectl logs failed: error: deployments.apps "alert-system" not found' in err
    code, _out, err = invoke(tmp_path / "home", "--context", "kind", "logs", "postgres", runner=runner)
    assert code == 2 and "unknown workload postgres" in err


HARNESS = (
    "--kube-context",
    "lab",
    "--kubeconfig",
    "/srv/k8s/kubeconfig",
    "--image-load",
    "containerd",
    "--containerd-address",
    "/run/lab/containerd.sock",
)
LAB = ["kubectl", "--kubeconfig", "/srv/k8s/kubeconfig", "--context", "lab"]


def test_up_kube_context_dry_run_plans_the_existing_cluster_and_remembers_nothing(tmp_path: Path) -> None:
    runner = RecordingRunner()
    code, out, err = invoke(
        tmp_path / "home", "up", *HARNESS, "--python-image", "local/python:3.11", "--dry-run", runner=runner
    )
    assert code == 0, err
    assert runner.calls == [] and not (tmp_path / "home").exists()
    commands = [line for line in out.splitlines() if not line.startswith("#")]
    assert commands[2:4] == [" ".join(LAB) + " get namespaces -o name", " ".join(LAB) + " get nodes -o name"]
    assert (
        "docker save " + " ".join(f"flightctl/{s}:dev" for s in SERVICES) + " | ctr --address /run/lab/containerd.sock "
        "--namespace k8s.io images import -"
    ) in commands
    assert all("--build-arg PYTHON_IMAGE=local/python:3.11" in line for line in commands if " build " in line)
    assert " ".join(LAB) + f" apply -k {DEPLOY}/kubernetes/overlays/cluster" in commands
    assert not any(line.startswith("kind") for line in commands)


def test_up_kube_context_remembers_the_target_for_status_logs_port_forward_and_down(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    home = tmp_path / "home"
    runner.script[(*LAB, "get", "nodes")] = Completed(0, "node/lab\n")
    runner.script[(*LAB, "-n", "flightctl", "get", "deployments,statefulsets")] = Completed(0, '{"items": []}')
    code, out, err = invoke(home, "up", *HARNESS, "-o", "json", runner=runner)
    assert code == 0, err
    status = json.loads(out)
    assert status["mode"] == "cluster" and status["gateway"].startswith("https://127.0.0.1:")
    saved = json.loads((home / "config.json").read_text())
    assert saved["cluster"] == {
        "kube_context": "lab",
        "kubeconfig": "/srv/k8s/kubeconfig",
        "image_load": "containerd",
        "containerd_address": "/run/lab/containerd.sock",
    }
    assert "context" not in saved, "up does not switch the current context"

    runner.calls.clear()
    code, out, err = invoke(home, "--context", "cluster", "status", "-o", "json", runner=runner)
    assert code == 0, err
    assert json.loads(out)["gateway"] == status["gateway"], "the gateway forward is still there"
    assert runner.commands() == [
        " ".join(LAB) + " -n flightctl get deployments,statefulsets -o json",
        " ".join(LAB) + " -n flightctl get pods -o json",
    ]

    runner.script[(*LAB, "-n", "flightctl", "logs")] = Completed(0, "gw line\n")
    code, out, err = invoke(home, "--context", "cluster", "logs", "gateway", "-n", "3", runner=runner)
    assert (code, out) == (0, "gw line\n"), err

    code, out, err = invoke(home, "--context", "cluster", "port-forward", "list", "-o", "json", runner=runner)
    assert [f["service"] for f in json.loads(out)] == ["gateway"]

    # A later `up` of the same cluster needs no options again.
    runner.calls.clear()
    code, _out, err = invoke(home, "--context", "cluster", "up", "--dry-run", runner=runner)
    assert code == 0, err

    runner.script[(*LAB, "delete", "namespace")] = Completed(0, 'namespace "flightctl" deleted\n')
    code, _out, err = invoke(home, "--context", "cluster", "down", "--purge", runner=runner)
    assert code == 0, err
    assert "stopped: port-forward gateway, namespace flightctl on lab" in err
    assert runner.commands()[-1] == " ".join(LAB) + " delete namespace flightctl --ignore-not-found --wait=true"
    assert not (home / "cluster" / "lab").exists()


def test_the_cluster_context_needs_a_cluster(tmp_path: Path, runner: RecordingRunner) -> None:
    home = tmp_path / "home"
    code, _out, err = invoke(home, "--context", "cluster", "status", runner=runner)
    assert code == 2 and "the cluster context has no cluster yet" in error_line(err)
    code, _out, err = invoke(home, "up", "--kube-context", "prod", runner=runner)
    assert code == 2 and "how do the images reach the cluster 'prod'" in error_line(err)
    code, _out, err = invoke(home, "up", "--kind", "--kube-context", "prod", runner=runner)
    assert code == 2 and "exclude each other" in error_line(err)
    assert runner.calls == []


def test_context_use_cluster_remembers_the_target(tmp_path: Path, runner: RecordingRunner) -> None:
    home = tmp_path / "home"
    code, _out, err = invoke(home, "context", "use", "cluster", "--kube-context", "kind-dev", runner=runner)
    assert code == 0, err
    code, out, _err = invoke(home, "context", "show", "-o", "json", runner=runner)
    shown = json.loads(out)
    assert shown["context"] == "cluster"
    assert shown["cluster"] == {"kube_context": "kind-dev", "image_load": "kind", "kind_cluster": "dev"}
    code, _out, err = invoke(home, "context", "use", "cluster", "--registry", "reg.local/t", runner=runner)
    assert code == 0, err  # the same cluster, now pushed to a registry
    assert json.loads((home / "config.json").read_text())["cluster"]["image_load"] == "registry"
    code, _out, err = invoke(home, "context", "use", "kind", "--kube-context", "x", runner=runner)
    assert code == 2 and "name the cluster of the context cluster" in error_line(err)


def test_the_status_table_keeps_its_columns_with_a_forwarded_gateway() -> None:
    """A forwarded gateway's URLs (https://127.0.0.1:PORT/PREFIX) are longer than the URL
    column was: HEALTHY ran into them (seen on the test cluster)."""
    from flightctl.cli.platform import _summary

    gateway = "https://127.0.0.1:44185"
    prefixes = {"user-manager": "/user-manager", "data-collector": "/data-collector", "alert-notifier": "/notifier"}
    status = {
        "mode": "cluster",
        "cluster": "flightctl-local",
        "gateway": gateway,
        "gateway_http": gateway.replace("https", "http"),
        "prometheus": None,
        "kafka": "kafka.flightctl.svc:9092 (inside the cluster)",
        "services": {
            name: {"url": gateway + prefixes[name] if name in prefixes else None, "healthy": True} for name in SERVICES
        },
    }
    table = _summary(status).splitlines()
    header = next(line for line in table if line.startswith("SERVICE"))
    column = header.index("HEALTHY")
    rows = [line for line in table if line.split(" ")[0] in SERVICES]
    assert len(rows) == len(SERVICES)
    for row in rows:
        assert row[column:] == "yes" and row[column - 1] == " ", row
