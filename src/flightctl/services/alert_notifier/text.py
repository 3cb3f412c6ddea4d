"""The Telegram text of each event, in HTML parse mode: every dynamic part is escaped, markup
only in the first line, and the whole cut to Telegram's 4096 characters."""

from __future__ import annotations

import re
from html import escape

from flightctl.services.alert_notifier.events import AlertEvent, Event, SlaEvent

MAX_TEXT_LENGTH = 4096
MAX_HEADER_PART = 200
ELLIPSIS = "…"
SIMULATED = "(simulated data)"
_HEADLINES = {"high": "too many flights", "low": "too few flights", "resolved": "back to normal"}
_LIVE_HEADLINES = {"high": "too much live traffic", "low": "too little live traffic", "resolved": "live traffic normal"}
_PARTIAL_ENTITY = re.compile(r"&[#0-9A-Za-z]*$")


def message_text(event: Event) -> str:
    return alert_text(event) if isinstance(event, AlertEvent) else sla_text(event)


def alert_text(event: AlertEvent) -> str:
    headline = (_LIVE_HEADLINES if event.live else _HEADLINES)[event.kind]
    header = f"✈️ <b>{_header_part(event.airport_code)}</b>: {headline}"
    lines = [header, escape(_condition(event))]
    if event.source == "mock":
        lines.append(SIMULATED)
    return fit("\n".join(lines))


def sla_text(event: SlaEvent) -> str:
    lines = [
        f"⚠️ <b>SLA breach: {_header_part(event.metric)}</b>",
        escape(
            f"observed {number(event.observed_value)}, {event.breach_type} threshold "
            f"{number(event.threshold_violated)}, {event.violations_count} violations"
        ),
    ]
    if event.labels:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(event.labels.items()))
        lines.append(escape(f"labels: {shown}"))
    return fit("\n".join(lines))


def _condition(event: AlertEvent) -> str:
    """The event's own sentence when it names the count and threshold, else one built here."""
    given = event.condition
    if given and _names(given, event.flight_count) and (event.threshold is None or _names(given, event.threshold)):
        return given
    count, threshold = event.flight_count, event.threshold
    if event.kind == "high":
        return f"The number of flights ({count}) exceeded the high threshold of {threshold}."
    if event.kind == "low":
        return f"The number of flights ({count}) is below the low threshold of {threshold}."
    if given:  # a resolved sentence without the numbers: keep it, then add them
        return f"{given} (flights: {count}" + (f", threshold: {threshold})" if threshold is not None else ")")
    if threshold is None:
        return f"The number of flights ({count}) is back within the thresholds."
    return f"The number of flights ({count}) is back within the threshold of {threshold}."


def _names(sentence: str, value: int) -> bool:
    return re.search(rf"(?<!\d){value}(?!\d)", sentence) is not None


def _header_part(raw: str) -> str:
    """An escaped dynamic part of the header, short enough that the markup is never cut."""
    if len(raw) > MAX_HEADER_PART:
        raw = raw[: MAX_HEADER_PART - 1] + ELLIPSIS
    return escape(raw)


def number(value: float) -> str:
    """12.0 -> "12", 0.12345678 -> "0.123457"."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 6))


def fit(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """Cut ``text`` to ``limit`` characters without splitting an HTML entity.

    Markup only appears in the first line, which is bounded, so a cut never opens a tag; the
    escaped text is never shorter than what Telegram counts, so the result is within its limit.
    """
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - len(ELLIPSIS)])
    return cut + ELLIPSIS
