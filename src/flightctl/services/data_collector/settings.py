"""data-collector's settings (light: importable without Flask, SQLAlchemy, Kafka or gRPC)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from flightctl.services.common.settings import (
    BaseSettings,
    DatabaseSettings,
    GrpcServerSettings,
    KafkaSettings,
    UserManagerClientSettings,
    env,
    non_negative,
    optional,
    parse_bool,
    positive,
    url,
)

MAX_WINDOW_HOURS = 48
"""OpenSky answers at most two days per call."""


def window_hours(raw: str) -> int:
    hours = int(raw)
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise ValueError(f"must be from 1 to {MAX_WINDOW_HOURS} (OpenSky allows at most {MAX_WINDOW_HOURS} hours)")
    return hours


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaSettings, GrpcServerSettings, UserManagerClientSettings):
    SERVICE: ClassVar[str] = "data-collector"

    opensky_api_url: str = env(
        "OPENSKY_API_URL",
        "https://opensky-network.org/api",
        parse=url,
        help="Root of OpenSky's REST API (`/flights/arrival`, `/flights/departure`).",
    )
    opensky_token_url: str = env(
        "OPENSKY_TOKEN_URL",
        "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token",
        parse=url,
        help="OpenSky's OAuth2 token endpoint (client-credentials grant).",
    )
    opensky_client_id: str | None = env(
        "OPENSKY_CLIENT_ID",
        None,
        parse=optional(str),
        secret=True,
        help="OpenSky API client id; unset (with the secret): anonymous calls, with OpenSky's lower quota.",
    )
    opensky_client_secret: str | None = env(
        "OPENSKY_CLIENT_SECRET", None, parse=optional(str), secret=True, help="OpenSky API client secret."
    )
    opensky_timeout_seconds: float = env(
        "OPENSKY_TIMEOUT_SECONDS",
        15.0,
        parse=positive(float),
        help="Timeout of every OpenSky call, the token call included (seconds).",
    )
    opensky_mock_fallback: bool = env(
        "OPENSKY_MOCK_FALLBACK",
        True,
        parse=parse_bool,
        help="When OpenSky fails, store simulated flights (`source = mock`) instead; false: a failed fetch "
        "stores and publishes nothing.",
    )
    collect_interval_seconds: float = env(
        "COLLECT_INTERVAL_SECONDS",
        300.0,
        parse=positive(float),
        help="Time between scheduled collection cycles (seconds).",
    )
    collect_window_hours: int = env(
        "COLLECT_WINDOW_HOURS",
        24,
        parse=window_hours,
        help=f"How far back each cycle asks OpenSky for flights (hours, at most {MAX_WINDOW_HOURS}).",
    )
    collect_pool_size: int = env(
        "COLLECT_POOL_SIZE", 4, parse=positive(int), help="How many airports a cycle fetches from OpenSky at once."
    )
    circuit_fail_max: int = env(
        "CIRCUIT_FAIL_MAX",
        5,
        parse=positive(int),
        help="Consecutive OpenSky failures (timeouts, 5xx) that open the circuit breaker.",
    )
    circuit_reset_seconds: float = env(
        "CIRCUIT_RESET_SECONDS",
        60.0,
        parse=non_negative(float),
        help="How long an open circuit breaker stops OpenSky calls before one trial call (seconds).",
    )
    flight_retention_days: int = env(
        "FLIGHT_RETENTION_DAYS", 30, parse=positive(int), help="Stored flights older than this are deleted (days)."
    )
