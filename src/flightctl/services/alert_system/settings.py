"""alert-system's settings (light: importable without Flask, SQLAlchemy or Kafka)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from flightctl.services.common.settings import (
    BaseSettings,
    DatabaseSettings,
    KafkaConsumerSettings,
    SetBy,
    env,
    non_negative,
    optional,
    positive,
)

FAULT_POINTS = ("before-produce", "mid-produce", "after-produce", "after-record")
"""Where FLIGHTCTL_FAULT_INJECT can crash the process (see faults.py)."""


def fault_point(raw: str) -> str | None:
    """The crash point named for alert-system in ``raw``, else None (another service's)."""
    service, _, point = raw.strip().partition(":")
    if service != "alert-system":
        return None
    if point not in FAULT_POINTS:
        raise ValueError(f"expected alert-system:<point> with point one of {', '.join(FAULT_POINTS)}")
    return point


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaConsumerSettings):
    SERVICE: ClassVar[str] = "alert-system"

    alert_repeat_seconds: int = env(
        "ALERT_REPEAT_SECONDS",
        3600,
        parse=non_negative(int),
        help="How long a threshold that stays crossed waits before it alerts again (seconds); 0 alerts on "
        "every evaluation.",
    )
    kafka_session_timeout_ms: int = env(
        "KAFKA_SESSION_TIMEOUT_MS",
        10000,
        parse=positive(int),
        help="How soon the consumer group gives a crashed instance's partitions to the others (milliseconds; "
        "the broker's minimum is 6000).",
    )
    processed_event_retention_days: int = env(
        "PROCESSED_EVENT_RETENTION_DAYS",
        7,
        parse=non_negative(int),
        help="How long the ids of handled events are kept to drop a redelivered one (days; Kafka keeps "
        "messages 7 days).",
    )
    fault_inject: str | None = env(
        "FLIGHTCTL_FAULT_INJECT",
        None,
        parse=optional(fault_point),
        set_by=SetBy.PROCESS,
        help="Tests only: `alert-system:<point>` makes the process kill itself there "
        f"({', '.join(FAULT_POINTS)}); another service's point is ignored.",
    )
