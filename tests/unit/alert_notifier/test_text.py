"""The Telegram texts: content, HTML escaping (checked with the fake's Telegram-like parser),
the mock wording and the 4096-character cut."""

from __future__ import annotations

from typing import Any

import pytest

from flightctl.services.alert_notifier.events import AlertEvent, SlaEvent
from flightctl.services.alert_notifier.text import MAX_TEXT_LENGTH, alert_text, fit, number, sla_text
from tests.fakes.telegram import parse_html


def alert(**changes: Any) -> AlertEvent:
    fields: dict[str, Any] = {
        "event_id": "e-1",
        "user_email": "ada@example.com",
        "airport_code": "LIRF",
        "kind": "high",
        "flight_count": 10,
        "threshold": 2,
        "condition": "The number of flights (10) exceeded the high threshold of 2.",
        "source": "opensky",
    }
    fields.update(changes)
    return AlertEvent(**fields)


def breach(**changes: Any) -> SlaEvent:
    fields: dict[str, Any] = {
        "event_id": "s-1",
        "timestamp": "2026-01-01T00:00:00Z",
        "metric": "http_request_duration_seconds",
        "query": "q",
        "observed_value": 2.5,
        "threshold_violated": 1.0,
        "breach_type": "high",
        "violations_count": 3,
    }
    fields.update(changes)
    return SlaEvent(**fields)


def test_a_high_alert_names_airport_count_and_threshold() -> None:
    text = alert_text(alert())
    plain = parse_html(text)
    assert plain.splitlines() == [
        "✈️ LIRF: too many flights",
        "The number of flights (10) exceeded the high threshold of 2.",
    ]
    assert "simulated" not in plain


@pytest.mark.parametrize(
    ("kind", "threshold", "headline", "sentence"),
    [
        ("high", 2, "too many flights", "The number of flights (10) exceeded the high threshold of 2."),
        ("low", 20, "too few flights", "The number of flights (10) is below the low threshold of 20."),
        ("resolved", 20, "back to normal", "The number of flights (10) is back within the threshold of 20."),
        ("resolved", None, "back to normal", "The number of flights (10) is back within the thresholds."),
    ],
)
def test_without_a_condition_the_sentence_is_built(
    kind: str, threshold: int | None, headline: str, sentence: str
) -> None:
    plain = parse_html(alert_text(alert(kind=kind, threshold=threshold, condition=None)))
    assert plain.splitlines() == [f"✈️ LIRF: {headline}", sentence]


def test_a_condition_that_does_not_name_the_numbers_is_replaced() -> None:
    plain = parse_html(alert_text(alert(condition="Too busy.")))
    assert "The number of flights (10) exceeded the high threshold of 2." in plain


def test_the_resolved_condition_of_the_alert_system_is_kept() -> None:
    condition = "The number of flights (5) is back within the thresholds (low 1, high 10)."
    plain = parse_html(alert_text(alert(kind="resolved", flight_count=5, threshold=10, condition=condition)))
    assert plain.splitlines()[1] == condition


def test_mock_data_says_so() -> None:
    plain = parse_html(alert_text(alert(source="mock")))
    assert plain.splitlines()[-1] == "(simulated data)"


def test_every_dynamic_part_is_escaped() -> None:
    event = alert(airport_code="<B&>", condition='(10) & <2> are "numbers" 2 <b>')
    text = alert_text(event)
    assert "&lt;B&amp;&gt;" in text
    plain = parse_html(text)  # raises like Telegram on broken HTML
    assert "<B&>" in plain
    assert '(10) & <2> are "numbers" 2 <b>' in plain


def test_sla_text_with_labels_and_awkward_metric_names() -> None:
    event = breach(metric="p95_<latency>&_x", labels={"job": "a<b", "instance": "x&y"})
    text = sla_text(event)
    plain = parse_html(text)
    assert plain.splitlines() == [
        "⚠️ SLA breach: p95_<latency>&_x",
        "observed 2.5, high threshold 1, 3 violations",
        "labels: instance=x&y, job=a<b",
    ]


def test_numbers_are_shown_plainly() -> None:
    assert number(12.0) == "12"
    assert number(0.123456789) == "0.123457"
    assert number(-3.5) == "-3.5"
    assert number(1e20) == "1e+20"


def test_a_huge_condition_is_cut_to_telegram_limit_without_breaking_html() -> None:
    text = alert_text(alert(condition="(10) 2 " + "<&>" * 5000))
    assert len(text) <= MAX_TEXT_LENGTH
    plain = parse_html(text)
    assert len(plain) <= MAX_TEXT_LENGTH
    assert plain.endswith("…")
    assert plain.startswith("✈️ LIRF: too many flights")


def test_a_huge_metric_name_keeps_the_header_markup_whole() -> None:
    text = sla_text(breach(metric="m" * 10_000, labels={"k": "v" * 10_000}))
    assert len(text) <= MAX_TEXT_LENGTH
    header = parse_html(text).splitlines()[0]
    assert header.startswith("⚠️ SLA breach: mmm")
    assert header.endswith("…")


@pytest.mark.parametrize("limit", range(10, 20))
def test_fit_never_splits_an_entity(limit: int) -> None:
    cut = fit("abc &amp; &lt;&gt; &#x1F600; tail text", limit)
    assert len(cut) <= limit
    parse_html(cut)


def test_fit_leaves_short_text_alone() -> None:
    assert fit("short") == "short"
