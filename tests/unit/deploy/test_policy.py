"""Policy checks on the rendered manifests: probes, resources, a restricted securityContext,
pinned images, no secret values, and the replica / Kafka settings each overlay promises."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from flightctl.services.sla_breach_detector.config import DEFAULT_CONFIG_PATH

from .kube import (
    KUBERNETES_DIR,
    Manifest,
    all_containers,
    env_of,
    find,
    find_prefixed,
    pod_spec,
    rendered,
    workloads,
)

SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")
STATELESS = ("user-manager", "data-collector", "alert-system", "alert-notifier")
GRPC_SERVERS = ("user-manager", "data-collector")
SECRET_NAME = "flightctl-secrets"
# Idle RSS in MiB, measured on the local platform (`flightctl up --local`, ps -o rss).
MEASURED_IDLE_RSS_MIB = {
    ("Deployment", "user-manager"): 95,
    ("Deployment", "data-collector"): 136,
    ("Deployment", "alert-system"): 87,
    ("Deployment", "alert-notifier"): 121,
    ("Deployment", "sla-breach-detector"): 50,
    ("StatefulSet", "kafka"): 401,
    ("Deployment", "prometheus"): 46,
    ("StatefulSet", "postgres"): 31,
}
SECRET_LIKE = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|PRIVATE_KEY|API_KEY", re.IGNORECASE)

# The uid each image runs as: ours, and the one the upstream image defines for its user.
EXPECTED_UID = {
    "flightctl/": 10001,
    "postgres:": 999,
    "apache/kafka:": 1000,
    "prom/prometheus:": 65534,
    "grafana/grafana:": 472,
    "nginxinc/nginx-unprivileged:": 101,
}


def _effective_security(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """Container securityContext over the pod's, for the fields both levels can set."""
    merged = {
        key: pod.get("securityContext", {})[key]
        for key in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
        if key in pod.get("securityContext", {})
    }
    merged.update(container.get("securityContext", {}))
    return merged


def _expected_uid(image: str) -> int:
    for prefix, uid in EXPECTED_UID.items():
        if image.startswith(prefix):
            return uid
    raise AssertionError(f"image {image} has no known uid; add it to EXPECTED_UID")


def test_long_running_containers_have_probes(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        if workload["kind"] == "Job":
            continue  # runs to completion: nothing to probe
        for container in pod_spec(workload)["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container, f"{where} has no readinessProbe"
            assert "livenessProbe" in container, f"{where} has no livenessProbe"


def test_service_probes_follow_the_contract(manifests: list[Manifest]) -> None:
    for name in SERVICES:
        (container,) = pod_spec(find(manifests, "Deployment", name))["containers"]
        if name in GRPC_SERVERS:
            assert container["readinessProbe"] == {
                "grpc": {"port": 50051},
                "periodSeconds": 10,
                "timeoutSeconds": 3,
                "failureThreshold": 3,
            }, "exactly one probe handler: the gRPC one replaces /health"
        else:
            assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        assert container["livenessProbe"]["httpGet"]["path"] == "/ping"
        assert "initialDelaySeconds" not in container["livenessProbe"], "the startup probe holds liveness back"
        startup = container["startupProbe"]
        # Four minutes: the database (2 min) and then the Kafka producer (2 min) are waited for.
        assert startup["periodSeconds"] * startup["failureThreshold"] == 240
        if name in GRPC_SERVERS:
            assert "httpGet" not in startup, "exactly one probe handler: the gRPC one replaces /ping"
        else:
            assert startup["httpGet"] == {"path": "/ping", "port": "http"}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == 8080
        env = env_of(container)
        assert env["HTTP_PORT"]["value"] == "8080"
        assert env["HTTP_HOST"]["value"] == "0.0.0.0"
        assert env["LOG_FORMAT"]["value"] == "json"
    for name in GRPC_SERVERS:
        (container,) = pod_spec(find(manifests, "Deployment", name))["containers"]
        assert container["startupProbe"]["grpc"]["port"] == 50051
        assert {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"] == 50051
        assert env_of(container)["GRPC_PORT"]["value"] == "50051"


def _readiness_dependencies(manifests: list[Manifest]) -> dict[str, set[str]]:
    """Which services a service's readiness waits for. /health checks every gRPC peer named
    by a *_GRPC_TARGET variable (services/*/app.py), and a peer is reachable through its
    Service only once it is Ready; a gRPC readiness probe checks the pod's own server only."""
    dependencies: dict[str, set[str]] = {}
    for name in SERVICES:
        (container,) = pod_spec(find(manifests, "Deployment", name))["containers"]
        probe = container["readinessProbe"]
        if probe.get("httpGet", {}).get("path") == "/health":
            dependencies[name] = {
                entry["value"].split(":")[0]
                for variable, entry in env_of(container).items()
                if variable.endswith("_GRPC_TARGET")
            }
        else:
            assert "grpc" in probe and "httpGet" not in probe, name
            dependencies[name] = set()
    return dependencies


def test_readiness_has_no_cycle(manifests: list[Manifest]) -> None:
    """No two services wait for each other to become Ready (neither would, on a first start)."""
    dependencies = _readiness_dependencies(manifests)

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            peer == goal or (peer not in seen and reaches(peer, goal, seen | {peer})) for peer in dependencies[start]
        )

    for name in SERVICES:
        assert not reaches(name, name), f"{name}'s readiness waits for itself through {dependencies[name]}"
    # alert-notifier still waits for user-manager (one way: no deadlock).
    assert dependencies["alert-notifier"] == {"user-manager"}


def test_the_cycle_check_detects_health_based_readiness_on_both_grpc_servers() -> None:
    """The check above is not vacuous: with /health readiness on both gRPC servers (the
    manifests before the fix) it finds the cycle."""
    import copy

    manifests = copy.deepcopy(rendered("kind"))
    for name in GRPC_SERVERS:
        (container,) = pod_spec(find(manifests, "Deployment", name))["containers"]
        container["readinessProbe"] = {"httpGet": {"path": "/health", "port": "http"}}
    dependencies = _readiness_dependencies(manifests)
    assert dependencies["user-manager"] == {"data-collector"}
    assert dependencies["data-collector"] == {"user-manager"}


def test_every_container_has_requests_and_limits(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        for container in all_containers(workload):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resource in resources.get(bound, {}), (
                        f"{workload['metadata']['name']}/{container['name']} has no {bound}.{resource}"
                    )


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    raise AssertionError(f"unexpected memory quantity {quantity}")


def test_memory_is_sized_from_the_measured_idle_rss(manifests: list[Manifest]) -> None:
    """Request at least 1.2 x the idle RSS (so the scheduler reserves what a started pod
    uses), limit at least 2 x (room for load before an OOM kill), request <= limit."""
    for (kind, name), idle in MEASURED_IDLE_RSS_MIB.items():
        container = next(c for c in pod_spec(find(manifests, kind, name))["containers"])
        memory = {bound: _mebibytes(container["resources"][bound]["memory"]) for bound in ("requests", "limits")}
        assert memory["requests"] >= 1.2 * idle, f"{name}: request {memory['requests']} MiB for {idle} MiB idle"
        assert memory["limits"] >= 2 * idle, f"{name}: limit {memory['limits']} MiB for {idle} MiB idle"
        assert memory["requests"] <= memory["limits"], name
    for name in SERVICES:
        (container,) = pod_spec(find(manifests, "Deployment", name))["containers"]
        assert container["resources"]["requests"]["cpu"] == "50m"
        assert container["resources"]["limits"]["cpu"] == "500m"


def test_every_container_runs_restricted(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        pod = pod_spec(workload)
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
        assert not any("hostPath" in volume for volume in pod.get("volumes", []))
        for container in all_containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            security = _effective_security(pod, container)
            assert security.get("runAsNonRoot") is True, where
            assert security.get("runAsUser") == _expected_uid(container["image"]), where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("privileged", False) is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not security.get("capabilities", {}).get("add"), where
            assert security.get("seccompProfile") == {"type": "RuntimeDefault"}, where


def test_namespace_enforces_the_restricted_pod_security_standard(manifests: list[Manifest]) -> None:
    labels = find(manifests, "Namespace", "flightctl")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_services_have_a_writable_tmp(manifests: list[Manifest]) -> None:
    for name in SERVICES:
        pod = pod_spec(find(manifests, "Deployment", name))
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_images_are_pinned(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        for container in all_containers(workload):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{image} has no tag"
            assert tag != "latest", f"{image} uses :latest"
            if not image.startswith("flightctl/"):
                assert re.search(r"\d+\.\d+", tag), f"{image} is not pinned to a version"
    images = {c["image"] for w in workloads(manifests) for c in all_containers(w)}
    assert "apache/kafka:4.1.1" in images
    assert any(re.fullmatch(r"postgres:15\.\d+(-\w+)?", image) for image in images)
    assert any(re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", image) for image in images)
    assert {f"flightctl/{name}:dev" for name in SERVICES} <= images


def test_locally_loaded_images_are_never_pulled(manifests: list[Manifest]) -> None:
    """Every overlay is for images flightctl put on the nodes itself (kind load, containerd
    import); a registry push renders the base instead, whose images are pulled."""
    for workload in workloads(manifests):
        for container in all_containers(workload):
            if container["image"].startswith("flightctl/"):
                assert container["imagePullPolicy"] == "Never", container["name"]


def test_no_secret_values_in_the_manifests(manifests: list[Manifest]) -> None:
    assert not [m for m in manifests if m["kind"] == "Secret"], "Secrets are created by flightctl, not kustomize"
    for workload in workloads(manifests):
        for container in all_containers(workload):
            for entry in container.get("env", []):
                if SECRET_LIKE.search(entry["name"]):
                    assert "value" not in entry, f"{entry['name']} has a literal value"
                    assert entry["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
                if "value" in entry:
                    # URLs with credentials take the password from a secret-backed variable.
                    for password in re.findall(r"://[^:/@\s]+:([^@\s]*)@", entry["value"]):
                        assert re.fullmatch(r"\$\([A-Z_]+\)", password), f"{entry['name']} embeds a password"


def test_secret_keys_match_the_example(manifests: list[Manifest]) -> None:
    example = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all((KUBERNETES_DIR / "secrets.example.yaml").read_text())
    }
    documented = example[SECRET_NAME]["stringData"]
    assert all(value.startswith("<") and value.endswith(">") for value in documented.values()), "placeholders only"
    required: set[str] = set()
    optional: set[str] = set()
    for workload in workloads(manifests):
        for container in all_containers(workload):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == SECRET_NAME
                    (optional if ref.get("optional") else required).add(ref["key"])
    assert required | optional == set(documented)
    assert required >= {"API_TOKEN", "POSTGRES_PASSWORD"}
    assert optional == {"OPENSKY_CLIENT_ID", "OPENSKY_CLIENT_SECRET", "TELEGRAM_BOT_TOKEN"}
    gateway = pod_spec(find(manifests, "Deployment", "gateway"))
    tls = {v["secret"]["secretName"] for v in gateway["volumes"] if "secret" in v}
    assert tls == {"flightctl-tls"}
    assert example["flightctl-tls"]["type"] == "kubernetes.io/tls"


def test_secrets_example_is_not_applied() -> None:
    for kustomization in KUBERNETES_DIR.rglob("kustomization.yaml"):
        entries = yaml.safe_load(kustomization.read_text()).get("resources", [])
        assert not [e for e in entries if "secret" in e.lower()], kustomization


def test_service_environment_follows_the_contract(manifests: list[Manifest]) -> None:
    env = {name: env_of(pod_spec(find(manifests, "Deployment", name))["containers"][0]) for name in SERVICES}
    databases = {
        "user-manager": "user_manager",
        "data-collector": "data_collector",
        "alert-system": "alert_system",
        "alert-notifier": "alert_notifier",
    }
    for name, database in databases.items():
        assert re.fullmatch(
            rf"postgresql\+psycopg://{database}:\$\(DB_PASSWORD\)@postgres:5432/{database}",
            env[name]["DATABASE_URL"]["value"],
        )
        names = list(env[name])
        assert names.index("DB_PASSWORD") < names.index("DATABASE_URL"), "$(DB_PASSWORD) must be defined first"
    assert "DATABASE_URL" not in env["sla-breach-detector"]
    for name in SERVICES:
        assert ("KAFKA_BOOTSTRAP_SERVERS" in env[name]) == (name != "user-manager")
        assert "API_TOKEN" in env[name]
    assert env["data-collector"]["USER_MANAGER_GRPC_TARGET"]["value"] == "user-manager:50051"
    assert env["alert-notifier"]["USER_MANAGER_GRPC_TARGET"]["value"] == "user-manager:50051"
    assert env["sla-breach-detector"]["USER_MANAGER_GRPC_TARGET"]["value"] == "user-manager:50051"
    assert env["user-manager"]["DATA_COLLECTOR_GRPC_TARGET"]["value"] == "data-collector:50051"
    assert env["sla-breach-detector"]["PROMETHEUS_URL"]["value"] == "http://prometheus:9090"


def test_sla_config_lives_on_a_persistent_volume_seeded_once(manifests: list[Manifest]) -> None:
    deployment = find(manifests, "Deployment", "sla-breach-detector")
    pod = pod_spec(deployment)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    config_path = env_of(pod["containers"][0])["SLA_CONFIG_PATH"]["value"]
    config_dir = config_path.rsplit("/", 1)[0]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    claim = volumes[mounts[config_dir]]["persistentVolumeClaim"]["claimName"]
    find(manifests, "PersistentVolumeClaim", claim)
    (seed,) = pod["initContainers"]
    assert env_of(seed)["SLA_CONFIG_PATH"]["value"] == config_path
    assert seed["image"] == pod["containers"][0]["image"], "the seed reads the default packaged in the same image"
    assert '[ ! -f "$SLA_CONFIG_PATH" ]' in seed["command"][-1], "the seed must never overwrite a stored config"
    # The default config is described once, in the service package: no copy in the manifests.
    assert not [m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("sla-")]
    assert "default_config.yaml" in seed["command"][-1]


def test_packaged_sla_default_checks_slowly_enough_for_the_cluster_scrape_interval(manifests: list[Manifest]) -> None:
    """The detector's rule: settings.t_check >= 5 * T_scrape, with the cluster's Prometheus."""
    default = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    scrape_interval = yaml.safe_load(
        find_prefixed(manifests, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    )["global"]["scrape_interval"]
    match = re.fullmatch(r"(\d+)s", scrape_interval)
    assert match is not None, scrape_interval
    assert default["settings"]["t_check"] >= 5 * int(match.group(1))


def test_prometheus_scrapes_annotated_flightctl_pods(manifests: list[Manifest]) -> None:
    config = yaml.safe_load(find_prefixed(manifests, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    (job,) = config["scrape_configs"]
    relabel = {tuple(r["source_labels"]): r for r in job["relabel_configs"] if "source_labels" in r}
    assert relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_part_of",)]["regex"] == "flightctl"
    assert relabel[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]["action"] == "keep"
    assert ("__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port") in relabel
    scraped = set()
    for workload in workloads(manifests):
        template = workload["spec"]["template"]
        assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "flightctl"
        annotations = template["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            scraped.add(workload["metadata"]["name"])
            ports = {p["name"]: p["containerPort"] for p in pod_spec(workload)["containers"][0]["ports"]}
            assert ports["http"] == int(annotations["prometheus.io/port"])
    assert scraped == {*SERVICES, "prometheus"}
    prometheus = pod_spec(find(manifests, "Deployment", "prometheus"))
    assert prometheus["serviceAccountName"] == "prometheus"
    binding = find(manifests, "RoleBinding", "prometheus-discovery")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "flightctl"}]
    role = find(manifests, "Role", binding["roleRef"]["name"])
    assert {"pods", "endpoints"} <= {r for rule in role["rules"] for r in rule["resources"]}


def test_services_select_pods_and_name_real_ports(manifests: list[Manifest]) -> None:
    for service in (m for m in manifests if m["kind"] == "Service"):
        selector = service["spec"]["selector"]
        targets = [
            w for w in workloads(manifests) if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert targets, f"Service {service['metadata']['name']} selects no pods"
        ports = {p["name"] for w in targets for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{service['metadata']['name']}: no port {port['targetPort']}"


def test_referenced_config_maps_and_claims_exist(manifests: list[Manifest]) -> None:
    config_maps = {m["metadata"]["name"] for m in manifests if m["kind"] == "ConfigMap"}
    claims = {m["metadata"]["name"] for m in manifests if m["kind"] == "PersistentVolumeClaim"}
    for workload in workloads(manifests):
        pod = pod_spec(workload)
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for container in all_containers(workload):
            for source in container.get("envFrom", []):
                ref = source["configMapRef"]
                # flightctl-settings is made by `flightctl up` from the environment (optional).
                assert ref["name"] in config_maps or (ref["name"] == "flightctl-settings" and ref.get("optional"))


def test_every_service_reads_the_optional_settings_config_map(manifests: list[Manifest]) -> None:
    services = [w for w in workloads(manifests) if w["metadata"]["name"] in SERVICES]
    assert len(services) == len(SERVICES)
    for workload in services:
        (server,) = [c for c in pod_spec(workload)["containers"] if c["name"] == "server"]
        assert {"configMapRef": {"name": "flightctl-settings", "optional": True}} in server["envFrom"]


def test_pod_disruption_budgets_cover_the_replicated_workloads(manifests: list[Manifest]) -> None:
    budgets = {m["metadata"]["name"]: m["spec"] for m in manifests if m["kind"] == "PodDisruptionBudget"}
    assert set(budgets) == {*STATELESS, "kafka"}
    for name, spec in budgets.items():
        assert spec == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}}


@pytest.mark.parametrize(
    ("overlay_name", "stateless", "brokers", "replication", "min_isr"),
    [("kind", 1, 1, "1", "1"), ("kind-multinode", 2, 3, "3", "2"), ("cluster", 1, 1, "1", "1")],
)
def test_overlay_replicas_and_kafka_replication(
    overlay_name: str, stateless: int, brokers: int, replication: str, min_isr: str
) -> None:
    manifests = rendered(overlay_name)
    for name in STATELESS:
        assert find(manifests, "Deployment", name)["spec"]["replicas"] == stateless, name
    for name in ("sla-breach-detector", "prometheus"):
        assert find(manifests, "Deployment", name)["spec"]["replicas"] == 1
    assert find(manifests, "StatefulSet", "postgres")["spec"]["replicas"] == 1

    kafka = find(manifests, "StatefulSet", "kafka")
    assert kafka["spec"]["replicas"] == brokers
    assert kafka["spec"]["podManagementPolicy"] == "Parallel"
    (broker,) = pod_spec(kafka)["containers"]
    assert env_of(broker)["KAFKA_REPLICAS"]["value"] == str(brokers), "quorum size must follow the replica count"
    cluster = find_prefixed(manifests, "ConfigMap", "kafka-cluster")
    assert cluster["data"]["KAFKA_REPLICATION_FACTOR"] == replication
    assert cluster["data"]["KAFKA_MIN_INSYNC_REPLICAS"] == min_isr
    assert int(cluster["data"]["KAFKA_TOPIC_PARTITIONS"]) >= 3
    (topics,) = pod_spec(find(manifests, "Job", "kafka-topics"))["containers"]
    for container in (broker, topics):
        assert {"configMapRef": {"name": cluster["metadata"]["name"]}} in container["envFrom"]
    headless = find(manifests, "Service", "kafka-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert kafka["spec"]["serviceName"] == "kafka-headless"
    assert kafka["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
