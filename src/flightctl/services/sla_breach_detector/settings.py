"""sla-breach-detector's settings (light: importable without Flask or Kafka)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from flightctl.services.common.settings import (
    BaseSettings,
    KafkaSettings,
    SetBy,
    UserManagerClientSettings,
    env,
    positive,
    url,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, KafkaSettings, UserManagerClientSettings):
    SERVICE: ClassVar[str] = "sla-breach-detector"

    prometheus_url: str = env(
        "PROMETHEUS_URL", parse=url, set_by=SetBy.FLIGHTCTL, help="Prometheus's HTTP root, queried for the SLA metrics."
    )
    sla_config_path: str = env(
        "SLA_CONFIG_PATH",
        set_by=SetBy.FLIGHTCTL,
        help="The SLA config file (YAML); `POST /sla/config` rewrites it.",
    )
    prometheus_timeout_seconds: float = env(
        "PROMETHEUS_TIMEOUT_SECONDS", 5.0, parse=positive(float), help="Timeout of every Prometheus query (seconds)."
    )
