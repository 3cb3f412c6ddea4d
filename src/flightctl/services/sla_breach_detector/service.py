"""What the HTTP routes call: plain functions over the config store, no Flask here."""

from __future__ import annotations

from typing import Any, Protocol

from flightctl.services.common.errors import InvalidInput, Unavailable
from flightctl.services.sla_breach_detector.config import (
    SCRAPE_FACTOR,
    ConfigStore,
    SlaConfig,
    check_scrape_rule,
    parse_config,
)
from flightctl.services.sla_breach_detector.prometheus import PrometheusError


class PrometheusRules(Protocol):
    """What validation asks Prometheus (PrometheusClient, or a fake in tests)."""

    def scrape_interval(self) -> float: ...

    def syntax_error(self, promql: str) -> str | None: ...


def validate_config(payload: Any, prometheus: PrometheusRules) -> SlaConfig:
    """The config in ``payload`` when every rule holds: the structural rules first (400), then
    ``settings.t_check >= 5 * T_scrape`` with T_scrape read from Prometheus now, then every
    query must parse as PromQL (400 when a rule fails, 503 when Prometheus cannot be asked)."""
    config = parse_config(payload)
    try:
        t_scrape = prometheus.scrape_interval()
    except PrometheusError as exc:
        raise Unavailable(
            f"the rule settings.t_check >= {SCRAPE_FACTOR} * T_scrape cannot be checked because "
            f"Prometheus's scrape interval could not be read: {exc}"
        ) from None
    check_scrape_rule(config, t_scrape)
    for index, rule in enumerate(config.metrics):
        try:
            problem = prometheus.syntax_error(rule.query)
        except PrometheusError as exc:
            raise Unavailable(f"the queries cannot be checked because Prometheus did not answer: {exc}") from None
        if problem:
            raise InvalidInput(f"metrics[{index}] ({rule.name}).query must be valid PromQL: {problem}")
    return config


def update_config(store: ConfigStore, payload: Any, prometheus: PrometheusRules) -> dict[str, Any]:
    """Validate, persist, then swap in the new config; returns it as stored."""
    config = validate_config(payload, prometheus)
    try:
        store.replace(config)
    except OSError as exc:
        raise Unavailable(f"the config could not be saved to SLA_CONFIG_PATH ({exc.strerror or exc})") from None
    return config.to_dict()
