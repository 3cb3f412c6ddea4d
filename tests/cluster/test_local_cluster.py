"""The harness itself: a Ready node, DNS, a volume, pod networking (opt-in, see conftest.py)."""

from __future__ import annotations

import json
import textwrap

from tests.cluster.cluster import LocalCluster, resolve, versions


def test_the_node_is_ready_at_the_pinned_version(local_cluster: LocalCluster) -> None:
    node = json.loads(local_cluster.kubectl("get", "node", "flightctl-node", "-o", "json").stdout)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{versions()['KUBERNETES_VERSION']}"


def test_coredns_answers_for_cluster_names(local_cluster: LocalCluster) -> None:
    assert resolve("kubernetes.default.svc.cluster.local", "10.96.0.10") == ["10.96.0.1"]


def test_a_pod_gets_a_volume_and_reaches_the_api_server(local_cluster: LocalCluster) -> None:
    image = versions()["DEBIAN_IMAGE"]
    script = "echo kept >/data/file && getent hosts kubernetes.default && exec 3<>/dev/tcp/kubernetes.default/443"
    manifest = textwrap.dedent(
        f"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: harness-check}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 10Mi}}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: harness-check}}
        spec:
          restartPolicy: Never
          containers:
            - name: check
              image: {image}
              imagePullPolicy: Never
              command: [bash, -c, "{script}"]
              volumeMounts: [{{name: data, mountPath: /data}}]
          volumes: [{{name: data, persistentVolumeClaim: {{claimName: harness-check}}}}]
        """
    )
    local_cluster.kubectl("apply", "-n", "default", "-f", "-", input=manifest)
    try:
        local_cluster.kubectl(
            "wait", "-n", "default", "--for=jsonpath={.status.phase}=Succeeded", "pod/harness-check", "--timeout=120s"
        )
        claim = local_cluster.kubectl("get", "-n", "default", "pvc/harness-check", "-o", "jsonpath={.status.phase}")
        assert claim.stdout == "Bound"
    finally:
        local_cluster.kubectl("delete", "-n", "default", "pod/harness-check", "pvc/harness-check", "--wait=false")
