"""The shipped default config watches metrics this platform really exports: every metric name in
its queries is declared by one of the services' metrics classes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

import flightctl.services
from flightctl.services.sla_breach_detector.config import DEFAULT_CONFIG_PATH, load_config_file

# PromQL words that are not metric names (functions, aggregations, keywords).
PROMQL_WORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "time",
    "vector",
    "histogram_quantile",
    "absent",
    "clamp_min",
    "clamp_max",
    "timestamp",
}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Every sample name the services' metrics classes can export (built on a fresh registry)."""
    names: set[str] = set()
    modules = ["flightctl.services.common.metrics"] + [
        f"flightctl.services.{m.name}.metrics"
        for m in pkgutil.iter_modules(flightctl.services.__path__)
        if m.name != "common"
    ]
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        registry = CollectorRegistry()
        for _, cls in inspect.getmembers(module, inspect.isclass):
            # The metrics classes take the registry and nothing else.
            if cls.__module__ == module_name and len(inspect.signature(cls).parameters) == 1:
                factory: Any = cls
                factory(registry)
        for family in registry.collect():
            family_: Metric = family
            names.update(family_.name + suffix for suffix in SUFFIXES.get(family_.type, ("",)))
    return names


def metric_names(query: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", query)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {w for w in words if w not in PROMQL_WORDS}


def test_metric_names_are_found_in_queries() -> None:
    assert metric_names('sum by (le, service) (rate(x_bucket{a="b"}[5m])) / y_total > 0') == {"x_bucket", "y_total"}


def test_every_metric_the_default_config_watches_is_exported_by_a_service() -> None:
    exported = exported_names()
    assert {"http_request_duration_seconds_bucket", "kafka_consumer_lag"} <= exported
    config = load_config_file(DEFAULT_CONFIG_PATH)
    for rule in config.metrics:
        names = metric_names(rule.query)
        assert names, rule.name
        assert names <= exported, f"{rule.name} watches {sorted(names - exported)}, which no service exports"


def test_the_default_config_covers_the_platform_s_sla() -> None:
    queries = {m.name: m.query for m in load_config_file(DEFAULT_CONFIG_PATH).metrics}
    assert "histogram_quantile(0.95" in queries["http_p95_latency_seconds"]
    assert 'status=~"5.."' in queries["http_5xx_ratio"]
    assert "collector_last_success_timestamp_seconds" in queries["collector_seconds_since_success"]
    assert "kafka_consumer_lag" in queries["kafka_consumer_lag"]
    assert 'status="failed"' in queries["notification_failures_15m"]
