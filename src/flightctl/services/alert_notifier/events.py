"""The two events the notifier consumes, validated. A value that can never be delivered raises
:class:`MalformedMessage` (the runner sends it to the dead-letter topic)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flightctl.services.common.emails import normalize_email
from flightctl.services.common.kafka import SLA_BREACH, TO_NOTIFIER, MalformedMessage

ALERT_KINDS = ("high", "low", "resolved")
BREACH_TYPES = ("low", "high")
MAX_ID_LENGTH = 255
MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True)
class AlertEvent:
    """A value of ``to-notifier``."""

    event_id: str
    user_email: str
    airport_code: str
    kind: str
    flight_count: int
    threshold: int | None
    condition: str | None
    source: str | None
    live: bool = False
    """About the live traffic near the airport (absent: the flights of a day)."""


@dataclass(frozen=True)
class SlaEvent:
    """A value of ``sla_breach``."""

    event_id: str
    timestamp: str
    metric: str
    query: str
    observed_value: float
    threshold_violated: float
    breach_type: str
    violations_count: int
    labels: dict[str, str] = field(default_factory=dict)


Event = AlertEvent | SlaEvent


def parse_event(topic: str, value: Any) -> Event:
    """The event carried by a message of ``topic`` (its decoded JSON value)."""
    if not isinstance(value, dict):
        raise MalformedMessage(f"a {topic} value must be a JSON object")
    if topic == TO_NOTIFIER:
        return parse_alert(value)
    if topic == SLA_BREACH:
        return parse_sla(value)
    raise MalformedMessage(f"the notifier does not handle topic {topic!r}")


def parse_alert(value: Mapping[str, Any]) -> AlertEvent:
    kind = _choice(value, "kind", ALERT_KINDS)
    threshold = _optional_count(value, "threshold")
    if threshold is None and kind != "resolved":
        raise MalformedMessage(f"threshold is required for a {kind} alert")
    airport = _text(value, "airport_code", 16).upper()
    return AlertEvent(
        event_id=_text(value, "event_id", MAX_ID_LENGTH),
        user_email=normalize_email(_text(value, "user_email", MAX_EMAIL_LENGTH)),
        airport_code=airport,
        kind=kind,
        flight_count=_count(value, "flight_count"),
        threshold=threshold,
        condition=_optional_text(value, "condition"),
        source=_optional_text(value, "source"),
        live=value.get("live") is True,
    )


def parse_sla(value: Mapping[str, Any]) -> SlaEvent:
    timestamp = value.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, str | int | float):
        raise MalformedMessage("timestamp must be a string or a number")
    labels = value.get("labels")
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise MalformedMessage("labels must be a JSON object")
    return SlaEvent(
        event_id=_text(value, "event_id", MAX_ID_LENGTH),
        timestamp=str(timestamp),
        metric=_text(value, "metric"),
        query=_string(value, "query"),
        observed_value=_number(value, "observed_value"),
        threshold_violated=_number(value, "threshold_violated"),
        breach_type=_choice(value, "breach_type", BREACH_TYPES),
        violations_count=_count(value, "violations_count"),
        labels={str(k): str(v) for k, v in labels.items()},
    )


def _string(value: Mapping[str, Any], name: str) -> str:
    raw = value.get(name)
    if not isinstance(raw, str):
        raise MalformedMessage(f"{name} must be a string")
    return raw


def _text(value: Mapping[str, Any], name: str, max_length: int | None = None) -> str:
    raw = _string(value, name).strip()
    if not raw:
        raise MalformedMessage(f"{name} must not be empty")
    if max_length is not None and len(raw) > max_length:
        raise MalformedMessage(f"{name} is longer than {max_length} characters")
    return raw


def _optional_text(value: Mapping[str, Any], name: str) -> str | None:
    raw = value.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise MalformedMessage(f"{name} must be a string")
    return raw.strip() or None


def _choice(value: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    raw = value.get(name)
    if raw not in allowed:
        raise MalformedMessage(f"{name} must be one of {', '.join(allowed)}")
    return str(raw)


def _count(value: Mapping[str, Any], name: str) -> int:
    raw = value.get(name)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise MalformedMessage(f"{name} must be a non-negative integer")
    return raw


def _optional_count(value: Mapping[str, Any], name: str) -> int | None:
    return None if value.get(name) is None else _count(value, name)


def _number(value: Mapping[str, Any], name: str) -> float:
    raw = value.get(name)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise MalformedMessage(f"{name} must be a finite number")
    return float(raw)
