"""What the HTTP routes call: plain functions over the config store, no Flask here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.errors import Unavailable
from services.sla_breach_detector.config import (
    SCRAPE_FACTOR,
    ConfigStore,
    SlaConfig,
    check_scrape_rule,
    parse_config,
)
from services.sla_breach_detector.prometheus import PrometheusError


def validate_config(payload: Any, scrape_interval: Callable[[], float]) -> SlaConfig:
    """The config in ``payload`` when every rule holds: the structural rules first (400), then
    ``settings.t_check >= 5 * T_scrape`` with T_scrape read from Prometheus now (400 when it
    fails, 503 when Prometheus cannot be asked)."""
    config = parse_config(payload)
    try:
        t_scrape = scrape_interval()
    except PrometheusError as exc:
        raise Unavailable(
            f"the rule settings.t_check >= {SCRAPE_FACTOR} * T_scrape cannot be checked because "
            f"Prometheus's scrape interval could not be read: {exc}"
        ) from None
    check_scrape_rule(config, t_scrape)
    return config


def update_config(store: ConfigStore, payload: Any, scrape_interval: Callable[[], float]) -> dict[str, Any]:
    """Validate, persist, then swap in the new config; returns it as stored."""
    config = validate_config(payload, scrape_interval)
    try:
        store.replace(config)
    except OSError as exc:
        raise Unavailable(f"the config could not be saved to SLA_CONFIG_PATH ({exc.strerror or exc})") from None
    return config.to_dict()
