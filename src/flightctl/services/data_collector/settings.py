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

ANONYMOUS_CREDITS, STANDARD_CREDITS = 400, 4000
"""OpenSky's daily credits per endpoint family: anonymous callers, and a standard account."""
MAX_LIVE_BOX_SQUARE_DEGREES = 25.0
"""The largest bounding box /states/all charges one credit for."""


def percent(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < 100:
        raise ValueError("must be from 0 to less than 100")
    return value


def batch_delay(raw: str) -> float:
    hours = float(raw)
    if not 0 <= hours < 24:
        raise ValueError("must be from 0 to less than 24 (hours after midnight UTC)")
    return hours


def history_days(raw: str) -> int:
    days = int(raw)
    if not 1 <= days <= 30:
        raise ValueError("must be from 1 to 30")
    return days


def live_radius(raw: str) -> float:
    km = float(raw)
    if not 1 <= km <= 150:
        raise ValueError("must be from 1 to 150 km (a one-credit box is at most 25 square degrees)")
    return km


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaSettings, GrpcServerSettings, UserManagerClientSettings):
    SERVICE: ClassVar[str] = "data-collector"

    opensky_api_url: str = env(
        "OPENSKY_API_URL",
        "https://opensky-network.org/api",
        parse=url,
        help="Root of OpenSky's REST API (`/flights/arrival`, `/flights/departure`, `/states/all`).",
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
        help="When OpenSky fails to give a day's flights, store simulated ones (`source = mock`) instead, and "
        "try OpenSky again for that day later; false: a failed fetch stores and publishes nothing.",
    )
    opensky_live_mock_fallback: bool = env(
        "OPENSKY_LIVE_MOCK_FALLBACK",
        False,
        parse=parse_bool,
        help="When OpenSky fails to give live state vectors, count simulated aircraft (`source = mock`) instead; "
        "false: that round publishes nothing.",
    )
    opensky_credits_per_day: int | None = env(
        "OPENSKY_CREDITS_PER_DAY",
        None,
        parse=optional(positive(int)),
        help=f"OpenSky's daily credits of the account, per endpoint family (`/flights/*`, `/states/*`): "
        f"{ANONYMOUS_CREDITS} anonymous, {STANDARD_CREDITS} standard, 8000 for an active feeder. Unset: "
        f"{STANDARD_CREDITS} with `OPENSKY_CLIENT_ID`, else {ANONYMOUS_CREDITS}.",
    )
    opensky_credit_reserve_percent: float = env(
        "OPENSKY_CREDIT_RESERVE_PERCENT",
        10.0,
        parse=percent,
        help="Share of each family's daily credits the collector never plans to spend (kept for surprises).",
    )
    opensky_batch_delay_hours: float = env(
        "OPENSKY_BATCH_DELAY_HOURS",
        6.0,
        parse=batch_delay,
        help="OpenSky computes arrivals and departures in a nightly batch: yesterday counts as complete this "
        "many hours after midnight UTC (before that, the day before yesterday is the latest complete day).",
    )
    collect_history_days: int = env(
        "COLLECT_HISTORY_DAYS",
        7,
        parse=history_days,
        help="Complete days of arrivals and departures kept per watched airport: the latest complete day "
        "first, then the days before it, back-filled within the credit budget (at most 30).",
    )
    collect_interval_seconds: float = env(
        "COLLECT_INTERVAL_SECONDS",
        300.0,
        parse=positive(float),
        help="How often the collector checks its plan and makes the calls that are due (seconds); the calls "
        "themselves are spread over the day within the credit budget.",
    )
    collect_pool_size: int = env(
        "COLLECT_POOL_SIZE",
        4,
        parse=positive(int),
        help="How many OpenSky calls `POST /collect` makes at once.",
    )
    live_interval_seconds: float = env(
        "LIVE_INTERVAL_SECONDS",
        60.0,
        parse=positive(float),
        help="Time between live-traffic rounds (one `/states/all` call per group of nearby airports with live "
        "interests); stretched when the `/states/*` credits would not last the day (seconds).",
    )
    live_radius_km: float = env(
        "LIVE_RADIUS_KM",
        30.0,
        parse=live_radius,
        help="Aircraft within this distance of an airport count as near it (km, 1 to 150).",
    )
    live_max_altitude_m: float = env(
        "LIVE_MAX_ALTITUDE_M",
        3000.0,
        parse=positive(float),
        help="Airborne aircraft near an airport count only below this barometric altitude (metres); aircraft "
        "on the ground always count.",
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
