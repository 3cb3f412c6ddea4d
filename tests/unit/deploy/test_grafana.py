"""Grafana (components/grafana): in the kind overlays and not in `cluster`; its provisioned data
source is the platform's Prometheus Service; the dashboard JSON loads, every PromQL expression
in it parses (promql-parser, and Prometheus's own promtool when installed) and names only
metrics the services declare (their prometheus_client objects, collected from fresh
registries) or Prometheus's own `up`; it covers the signals of `flightctl top`; and the
NetworkPolicies let Grafana reach Prometheus and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry

from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.common.metrics import HttpMetrics, KafkaMetrics
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.sla_breach_detector.metrics import SlaMetrics
from flightctl.services.user_manager.metrics import UserMetrics

from .kube import KUBERNETES_DIR, find, find_prefixed, rendered
from .test_network_policy import CLIENT, NAMESPACE, Peer, connection_allowed

COMPONENT = KUBERNETES_DIR / "components" / "grafana"
STANDARD = {"up"}  # written by Prometheus itself for every target


def declared_metric_names() -> set[str]:
    """Every sample name the services can expose (``_total``, ``_bucket``, ``_sum``, ``_count``,
    ``_created`` included), from their metric classes on fresh registries."""
    registry = CollectorRegistry()
    for declare in (
        HttpMetrics,
        KafkaMetrics,
        CollectorMetrics,
        AlertMetrics,
        NotifierMetrics,
        SlaMetrics,
        UserMetrics,
    ):
        declare(registry)
    names: set[str] = set()
    for family in registry.collect():
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("_sum", "_count", "_created"),
        }.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    return names


def dashboard() -> dict[str, Any]:
    return json.loads((COMPONENT / "flightctl.json").read_text())


def expressions() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of the dashboard."""
    return [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p.get("targets", [])]


CHILDREN = ("lhs", "rhs", "expr", "args", "param", "vector_selector")
"""The attributes of promql-parser's nodes that hold sub-expressions."""


def selectors(node: Any) -> Iterator[Any]:
    """Every VectorSelector in a parsed expression."""
    if type(node).__name__ == "VectorSelector":
        yield node
        return
    for name in CHILDREN:
        value = getattr(node, name, None)
        for child in value if isinstance(value, list) else [value]:
            if child is not None:
                yield from selectors(child)


def test_grafana_is_in_the_kind_overlays_and_not_in_cluster() -> None:
    for overlay in ("kind", "kind-multinode"):
        deployment = find(rendered(overlay), "Deployment", "grafana")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "grafana/grafana:12.3.3"
    assert not [m for m in rendered("cluster") if "grafana" in m["metadata"]["name"]]


def test_the_data_source_is_the_platforms_prometheus() -> None:
    manifests = rendered("kind")
    provisioning = find_prefixed(manifests, "ConfigMap", "grafana-provisioning")
    (source,) = yaml.safe_load(provisioning["data"]["datasources.yaml"])["datasources"]
    service = find(manifests, "Service", "prometheus")
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert source["url"] == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    uids = {t["datasource"]["uid"] for p in dashboard()["panels"] for t in p.get("targets", [])}
    assert uids == {source["uid"]}
    shown = find_prefixed(manifests, "ConfigMap", "grafana-dashboards")
    assert json.loads(shown["data"]["flightctl.json"]) == dashboard()


def test_the_dashboard_loads_with_unique_panel_ids_inside_the_grid() -> None:
    loaded = dashboard()
    assert loaded["uid"] and loaded["title"] == "flightctl"
    ids = [p["id"] for p in loaded["panels"]]
    assert len(ids) == len(set(ids))
    for panel in loaded["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize(("title", "expr"), expressions(), ids=[t for t, _ in expressions()])
def test_every_expression_parses_and_names_declared_metrics(title: str, expr: str) -> None:
    names = {s.name for s in selectors(promql_parser.parse(expr))}
    assert names, f"{title}: no metric in {expr}"
    unknown = names - declared_metric_names() - STANDARD
    assert not unknown, f"{title}: {sorted(unknown)} is not declared by any service"


def test_promtool_accepts_every_expression(tmp_path: Path) -> None:
    """Prometheus's own parser (Debian's prometheus package, which `make bootstrap` installs)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (scripts/bootstrap.sh does)"
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(expressions())
    ]}]}  # fmt: skip
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(expressions())} rules found" in checked.stdout


def test_the_dashboard_covers_the_signals_of_top() -> None:
    used = {s.name for _, expr in expressions() for s in selectors(promql_parser.parse(expr))}
    for signal in (
        "http_requests_total",  # rate and errors per service
        "http_request_duration_seconds_bucket",  # p95
        "up",
        "collector_last_success_timestamp_seconds",
        "opensky_credits_remaining",
        "collector_next_fetch_timestamp_seconds",
        "kafka_consumer_lag",
        "alerts_emitted_total",
        "notifications_total",
        "sla_breaches_total",
    ):
        assert signal in used, signal


def test_grafana_reaches_prometheus_and_nothing_else() -> None:
    manifests = rendered("kind")
    grafana, prometheus, postgres, service = (
        Peer(app, NAMESPACE, {"app": app}) for app in ("grafana", "prometheus", "postgres", "user-manager")
    )
    assert connection_allowed(manifests, grafana, prometheus, 9090)
    assert connection_allowed(manifests, CLIENT, grafana, 3000)  # a port-forward
    assert not connection_allowed(manifests, grafana, postgres, 5432)
    assert not connection_allowed(manifests, grafana, service, 8080)
    assert not connection_allowed(manifests, grafana, prometheus, 9091)
