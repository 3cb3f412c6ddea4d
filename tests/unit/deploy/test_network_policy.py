"""The NetworkPolicies allow exactly the flows the platform needs.

A small evaluator of the NetworkPolicy semantics the manifests use (pod and namespace
selectors, ipBlock, numeric ports) decides each flow: a connection is allowed when the
client's egress policies and the server's ingress policies both allow it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

from .kube import Manifest, find, rendered, workloads

NAMESPACE = "flightctl"


@dataclass(frozen=True)
class Peer:
    name: str
    namespace: str | None = None  # None: not a pod (an address outside the cluster's pods)
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = "10.244.1.10"
    namespace_labels: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.name)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(rule_peer: dict[str, Any], peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excluded) for excluded in block.get("except", [])
        )
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        namespace_labels = {"kubernetes.io/metadata.name": peer.namespace, **peer.namespace_labels}
        if not _selects(rule_peer["namespaceSelector"], namespace_labels):
            return False
    elif peer.namespace != NAMESPACE:
        return False
    return _selects(rule_peer.get("podSelector", {}), peer.labels)


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in rule_ports)


def _allowed(policies: list[Manifest], pod: Peer, other: Peer, port: int, protocol: str, direction: str) -> bool:
    if pod.namespace != NAMESPACE:
        return True  # outside the namespace these policies govern
    selecting = [
        p
        for p in policies
        if direction.capitalize() in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    peers_key = "to" if direction == "egress" else "from"
    for policy in selecting:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(p, other) for p in peers)) and _port_matches(
                rule.get("ports"), port, protocol
            ):
                return True
    return False


def connection_allowed(manifests: list[Manifest], source: Peer, target: Peer, port: int, protocol: str = "TCP") -> bool:
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    return _allowed(policies, source, target, port, protocol, "egress") and _allowed(
        policies, target, source, port, protocol, "ingress"
    )


def _pods(manifests: list[Manifest]) -> dict[str, Peer]:
    return {
        w["metadata"]["name"]: Peer(w["metadata"]["name"], NAMESPACE, w["spec"]["template"]["metadata"]["labels"])
        for w in workloads(manifests)
    }


INGRESS_NGINX = Peer("ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
# A client through a NodePort or from outside the cluster (its address, not a pod of ours).
CLIENT = Peer("client-through-a-node-port", ip="192.168.1.20")
STRANGER = Peer("a-pod-of-another-app", NAMESPACE, {"app": "debug"})
KUBE_DNS = Peer("kube-dns", "kube-system", {"k8s-app": "kube-dns"})
INTERNET = Peer("opensky-or-telegram", ip="149.154.167.220")
API_SERVER_SERVICE = Peer("kubernetes-service", ip="10.96.0.1")
API_SERVER_NODE = Peer("kind-control-plane", ip="172.18.0.2")
METADATA = Peer("cloud-metadata", ip="169.254.169.254")
# In-cluster doubles of OpenSky and Telegram (api-doubles-egress): only a labelled pod in a
# labelled namespace is one.
DOUBLES_NAMESPACE = {"flightctl.io/api-doubles": "true"}
API_DOUBLE = Peer("api-double", "doubles", {"flightctl.io/api-double": "true"}, namespace_labels=DOUBLES_NAMESPACE)
UNLABELLED_DOUBLE = Peer("unlabelled-pod-among-doubles", "doubles", {"app": "x"}, namespace_labels=DOUBLES_NAMESPACE)
DOUBLE_ELSEWHERE = Peer("double-in-an-unlabelled-namespace", "elsewhere", {"flightctl.io/api-double": "true"})

SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")
DB_CLIENTS = ("user-manager", "data-collector", "alert-system", "alert-notifier")
KAFKA_CLIENTS = ("data-collector", "alert-system", "alert-notifier", "sla-breach-detector", "kafka-topics")
GATEWAY = ("user-manager", "data-collector", "sla-breach-detector", "alert-notifier")

ALLOWED = [
    *[(client, "postgres", 5432) for client in DB_CLIENTS],
    *[(client, "kafka", 9092) for client in KAFKA_CLIENTS],
    ("kafka", "kafka", 9092),
    ("kafka", "kafka", 9093),
    ("data-collector", "user-manager", 50051),
    ("alert-notifier", "user-manager", 50051),
    ("sla-breach-detector", "user-manager", 50051),  # scoped API tokens (AuthenticateToken)
    ("user-manager", "data-collector", 50051),
    *[("prometheus", service, 8080) for service in SERVICES],
    ("prometheus", "prometheus", 9090),
    ("sla-breach-detector", "prometheus", 9090),
    *[("gateway", service, 8080) for service in GATEWAY],
    (CLIENT, "gateway", 8443),
    (CLIENT, "gateway", 8080),
    (INGRESS_NGINX, "gateway", 8443),
    ("data-collector", INTERNET, 443),
    ("alert-notifier", INTERNET, 443),
    ("prometheus", API_SERVER_SERVICE, 443),
    ("prometheus", API_SERVER_NODE, 6443),
    ("data-collector", API_DOUBLE, 8080),
    ("alert-notifier", API_DOUBLE, 8080),
]

DENIED = [
    ("sla-breach-detector", "postgres", 5432),
    ("kafka", "postgres", 5432),
    ("prometheus", "postgres", 5432),
    ("user-manager", "kafka", 9092),
    ("alert-system", "kafka", 9093),
    ("alert-system", "user-manager", 50051),
    ("sla-breach-detector", "data-collector", 50051),
    ("alert-notifier", "data-collector", 50051),
    ("alert-system", "prometheus", 9090),
    ("user-manager", "alert-system", 8080),
    ("gateway", "kafka", 9092),
    ("gateway", "postgres", 5432),
    ("gateway", "alert-system", 8080),
    ("gateway", "user-manager", 50051),
    ("gateway", "prometheus", 9090),
    ("gateway", INTERNET, 443),
    (CLIENT, "gateway", 9090),
    (CLIENT, "user-manager", 8080),
    (STRANGER, "user-manager", 8080),
    (INGRESS_NGINX, "user-manager", 8080),
    (INGRESS_NGINX, "alert-system", 8080),
    (INGRESS_NGINX, "postgres", 5432),
    (INGRESS_NGINX, "user-manager", 50051),
    (INGRESS_NGINX, "prometheus", 9090),
    ("user-manager", INTERNET, 443),
    ("alert-system", INTERNET, 443),
    ("data-collector", INTERNET, 80),
    ("data-collector", API_SERVER_SERVICE, 443),
    ("alert-notifier", API_SERVER_NODE, 443),
    ("data-collector", METADATA, 443),
    ("data-collector", API_DOUBLE, 9090),
    ("data-collector", UNLABELLED_DOUBLE, 8080),
    ("data-collector", DOUBLE_ELSEWHERE, 8080),
    ("alert-notifier", DOUBLE_ELSEWHERE, 8080),
    ("alert-system", API_DOUBLE, 8080),
    ("user-manager", API_DOUBLE, 8080),
    ("gateway", API_DOUBLE, 8080),
    ("prometheus", API_DOUBLE, 8080),
]


def _resolve(pods: dict[str, Peer], peer: str | Peer) -> Peer:
    return pods[peer] if isinstance(peer, str) else peer


def _name(peer: str | Peer) -> str:
    return peer if isinstance(peer, str) else peer.name


def _flow_id(flow: tuple[str | Peer, str | Peer, int]) -> str:
    source, target, port = flow
    return f"{_name(source)}->{_name(target)}:{port}"


def test_namespace_denies_by_default(overlay: str) -> None:
    deny = find(rendered(overlay), "NetworkPolicy", "default-deny-all")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("flow", ALLOWED, ids=_flow_id)
def test_needed_flows_are_allowed(flow: tuple[str | Peer, str | Peer, int]) -> None:
    manifests = rendered("kind-multinode")
    pods = _pods(manifests)
    source, target, port = flow
    assert connection_allowed(manifests, _resolve(pods, source), _resolve(pods, target), port)


@pytest.mark.parametrize("flow", DENIED, ids=_flow_id)
def test_other_flows_are_denied(flow: tuple[str | Peer, str | Peer, int]) -> None:
    manifests = rendered("kind-multinode")
    pods = _pods(manifests)
    source, target, port = flow
    assert not connection_allowed(manifests, _resolve(pods, source), _resolve(pods, target), port)


def test_every_pod_resolves_names_and_nothing_else_reaches_dns() -> None:
    manifests = rendered("kind")
    for pod in _pods(manifests).values():
        assert connection_allowed(manifests, pod, KUBE_DNS, 53, "UDP"), pod.name
        assert connection_allowed(manifests, pod, KUBE_DNS, 53, "TCP"), pod.name
        assert not connection_allowed(manifests, pod, Peer("other", "kube-system", {"k8s-app": "x"}), 53, "UDP")
