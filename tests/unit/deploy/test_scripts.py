"""The shell scripts shipped in ConfigMaps, run offline against stand-in commands.

Each test takes the script from the rendered overlay (exactly what the pod would run),
gives it the environment its container would have, and replaces the Kafka / PostgreSQL
tools with stubs that record how they were called.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from .kube import Manifest, env_of, find, find_prefixed, pod_spec, rendered

BASH = shutil.which("bash")
assert BASH is not None, "bash is required: the container scripts are bash scripts"

RECORDING_STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "{log}"
"""


def _stub(directory: Path, name: str, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _container_env(manifests: list[Manifest], container: dict) -> dict[str, str]:
    """The literal environment a container gets from its envFrom ConfigMaps and env values."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(manifests, "ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({name: entry["value"] for name, entry in env_of(container).items() if "value" in entry})
    return env


def _run(script: str, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "script.sh"
    path.write_text(script)
    assert BASH is not None
    return subprocess.run(
        [BASH, str(path)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize(("overlay_name", "ordinal"), [("kind", 0), ("kind-multinode", 2)])
def test_kafka_node_config_follows_the_statefulset(overlay_name: str, ordinal: int, tmp_path: Path) -> None:
    manifests = rendered(overlay_name)
    kafka = find(manifests, "StatefulSet", "kafka")
    (container,) = pod_spec(kafka)["containers"]
    script = find_prefixed(manifests, "ConfigMap", "kafka-scripts")["data"]["start-kafka.sh"]
    assert container["command"] == ["/bin/bash", "/opt/flightctl/start-kafka.sh"]
    log = tmp_path / "calls.log"
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        _stub(tmp_path / "kafka" / "bin", tool, RECORDING_STUB.format(log=log))
    env = {
        **_container_env(manifests, container),
        "HOSTNAME": f"kafka-{ordinal}",
        "POD_NAMESPACE": "flightctl",
        "KAFKA_HOME": str(tmp_path / "kafka"),
        "KAFKA_CONFIG_DIR": str(tmp_path / "config"),
        "KAFKA_DATA_DIR": str(tmp_path / "data"),
    }
    result = _run(script, tmp_path, env)
    assert result.returncode == 0, result.stderr

    replicas = kafka["spec"]["replicas"]
    cluster = find_prefixed(manifests, "ConfigMap", "kafka-cluster")["data"]
    domain = "kafka-headless.flightctl.svc.cluster.local"
    properties = _properties(tmp_path / "config" / "server.properties")
    assert properties["node.id"] == str(ordinal)
    assert properties["process.roles"] == "broker,controller"
    assert properties["controller.quorum.voters"] == ",".join(f"{i}@kafka-{i}.{domain}:9093" for i in range(replicas))
    assert properties["advertised.listeners"] == f"PLAINTEXT://kafka-{ordinal}.{domain}:9092"
    assert properties["log.dirs"] == f"{tmp_path}/data/kraft"
    assert properties["auto.create.topics.enable"] == "false"
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert properties[key] == cluster["KAFKA_REPLICATION_FACTOR"]
    for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
        assert properties[key] == cluster["KAFKA_MIN_INSYNC_REPLICAS"]

    config = tmp_path / "config" / "server.properties"
    assert log.read_text().splitlines() == [
        f"kafka-storage.sh format --ignore-formatted --cluster-id {cluster['KAFKA_CLUSTER_ID']} --config {config}",
        f"kafka-server-start.sh {config}",
    ]


def test_kafka_refuses_a_hostname_without_ordinal(tmp_path: Path) -> None:
    manifests = rendered("kind")
    (container,) = pod_spec(find(manifests, "StatefulSet", "kafka"))["containers"]
    script = find_prefixed(manifests, "ConfigMap", "kafka-scripts")["data"]["start-kafka.sh"]
    env = {**_container_env(manifests, container), "HOSTNAME": "kafka", "POD_NAMESPACE": "flightctl"}
    result = _run(script, tmp_path, env)
    assert result.returncode == 1
    assert "node id" in result.stderr


@pytest.mark.parametrize("overlay_name", ["kind", "kind-multinode"])
def test_topics_job_creates_every_topic(overlay_name: str, tmp_path: Path) -> None:
    manifests = rendered(overlay_name)
    (container,) = pod_spec(find(manifests, "Job", "kafka-topics"))["containers"]
    script = find_prefixed(manifests, "ConfigMap", "kafka-scripts")["data"]["create-topics.sh"]
    log = tmp_path / "calls.log"
    for tool in ("kafka-broker-api-versions.sh", "kafka-topics.sh"):
        _stub(tmp_path / "kafka" / "bin", tool, RECORDING_STUB.format(log=log))
    env = {**_container_env(manifests, container), "KAFKA_HOME": str(tmp_path / "kafka")}
    result = _run(script, tmp_path, env)
    assert result.returncode == 0, result.stderr

    cluster = find_prefixed(manifests, "ConfigMap", "kafka-cluster")["data"]
    created = {}
    for line in log.read_text().splitlines():
        if "--create" in line:
            assert "--bootstrap-server kafka:9092" in line
            assert "--if-not-exists" in line
            topic = re.search(r"--topic (\S+)", line)
            assert topic is not None
            created[topic.group(1)] = line
    assert set(created) == {"to-alert-system", "to-notifier", "sla_breach", "to-alert-system.dlq"}
    for line in created.values():
        assert f"--partitions {cluster['KAFKA_TOPIC_PARTITIONS']}" in line
        assert f"--replication-factor {cluster['KAFKA_REPLICATION_FACTOR']}" in line
        assert f"--config min.insync.replicas={cluster['KAFKA_MIN_INSYNC_REPLICAS']}" in line
    assert int(cluster["KAFKA_TOPIC_PARTITIONS"]) >= 3


def test_postgres_init_creates_one_database_and_role_per_service(tmp_path: Path) -> None:
    manifests = rendered("kind")
    postgres = find(manifests, "StatefulSet", "postgres")
    (container,) = pod_spec(postgres)["containers"]
    script = find_prefixed(manifests, "ConfigMap", "postgres-initdb")["data"]["create-databases.sh"]
    # The script reads only variables the container defines.
    provided = set(env_of(container))
    assert set(re.findall(r"\$([A-Z][A-Z_]+)", script)) <= provided

    log = tmp_path / "psql.log"
    _stub(tmp_path / "bin", "psql", f'#!/bin/bash\necho "psql $*" >> "{log}"\ncat >> "{log}"\n')
    env = {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "POSTGRES_USER": "postgres",
        **{name: f"pw-{name.lower()}" for name in provided if name.endswith("_DB_PASSWORD")},
    }
    result = _run(script, tmp_path, env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text()
    for database in ("user_manager", "data_collector", "alert_system", "alert_notifier"):
        assert f"--set=name={database} --set=password=pw-{database}_db_password" in calls
    assert calls.count('CREATE DATABASE :"name" OWNER :"name";') == 4
    assert calls.count('REVOKE ALL ON DATABASE :"name" FROM PUBLIC;') == 4
    init_volume = next(v for v in pod_spec(postgres)["volumes"] if v["name"] == "initdb")
    mount = next(m for m in container["volumeMounts"] if m["name"] == "initdb")
    assert mount["mountPath"] == "/docker-entrypoint-initdb.d"
    assert init_volume["configMap"]["defaultMode"] & 0o111, "executable, so the entrypoint runs it in a subshell"


def test_sla_seed_copies_the_packaged_default_once(tmp_path: Path) -> None:
    """The init container writes the service's packaged default config when no config is
    stored yet, and leaves a stored (accepted) config alone. Run with this checkout's Python,
    which imports the same package the image installs."""
    import sys

    from flightctl.services.sla_breach_detector.config import DEFAULT_CONFIG_PATH

    pod = pod_spec(find(rendered("kind"), "Deployment", "sla-breach-detector"))
    (seed,) = pod["initContainers"]
    config = tmp_path / "sla" / "config.yaml"
    config.parent.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "SLA_CONFIG_PATH": str(config),
    }
    first = subprocess.run(seed["command"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    assert f"seeded {config}" in first.stdout
    assert config.read_text() == DEFAULT_CONFIG_PATH.read_text()
    assert not (tmp_path / "sla" / "config.yaml.seed").exists()

    config.write_text("settings: {t_check: 120}\nmetrics: []\n")
    second = subprocess.run(seed["command"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 0, second.stderr
    assert f"keeping {config}" in second.stdout
    assert config.read_text() == "settings: {t_check: 120}\nmetrics: []\n"
