"""user-manager's settings (light: importable without Flask, SQLAlchemy or gRPC)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from flightctl.services.common.settings import (
    BaseSettings,
    DatabaseSettings,
    DataCollectorClientSettings,
    GrpcServerSettings,
    env,
    positive,
)

LINK_TTL_SECONDS = 600
"""How long a Telegram deep-link code stays valid unless TELEGRAM_LINK_TTL_SECONDS says otherwise."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, GrpcServerSettings, DataCollectorClientSettings):
    SERVICE: ClassVar[str] = "user-manager"

    idempotency_ttl_seconds: int = env(
        "IDEMPOTENCY_TTL_SECONDS",
        86400,
        parse=positive(int),
        help="How long the outcome of a request with an Idempotency-Key is kept and replayed to a repeat "
        "(seconds); older keys are purged.",
    )
    outbox_retry_seconds: float = env(
        "OUTBOX_RETRY_SECONDS",
        5.0,
        parse=positive(float),
        help="How often the outbox of a deleted user's interests is drained, and how long a deletion that "
        "data-collector did not confirm waits before the next try (seconds).",
    )
    telegram_link_ttl_seconds: int = env(
        "TELEGRAM_LINK_TTL_SECONDS",
        LINK_TTL_SECONDS,
        parse=positive(int),
        help="How long a Telegram deep-link code (`flightctl users telegram EMAIL --link`) stays valid (seconds).",
    )
