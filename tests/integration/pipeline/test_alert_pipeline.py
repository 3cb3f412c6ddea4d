"""The alert pipeline on the real platform (Kafka, PostgreSQL, alert-system, alert-notifier,
user-manager) with the fake Telegram: readings and events are produced straight to the
topics, so each test controls exactly what flows."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from flightctl.platform.proc import wait_until
from flightctl.services.common.kafka import SLA_BREACH, TO_ALERT_SYSTEM, TO_NOTIFIER, encode
from tests.conftest import Platform
from tests.fakes.telegram import Fault
from tests.integration.pipeline.helpers import (
    Kafka,
    alert,
    chat_messages,
    metric,
    new_user,
    reading,
    wait_for_chat,
)


@pytest.fixture
def kafka(platform: Platform) -> Iterator[Kafka]:
    client = Kafka(platform.status["kafka"])
    yield client
    client.close()


def metrics_of(platform: Platform, service: str) -> str:
    with platform.client(service) as client:
        return client.get("/metrics").text


def test_a_breach_fires_once_stays_quiet_then_resolves_once(platform: Platform, kafka: Kafka) -> None:
    email, chat = new_user(platform)
    airport = "LIPZ"
    before = metrics_of(platform, "alert-system")
    # Same key, same partition: alert-system sees them in this order.
    for count in (6, 7, 1, 0):  # breach, unchanged breach, back inside, low breach (a marker)
        kafka.send(TO_ALERT_SYSTEM, reading(email, airport, count, high=3, low=0 if count != 0 else 1), key=airport)
    messages = wait_for_chat(platform, chat, 3)
    texts = [m.text for m in messages]
    assert len(texts) == 3, texts
    assert "(6) exceeded the high threshold of 3" in texts[0]  # the first breach
    assert "back within" in texts[1] and "(1)" in texts[1]  # the repeat (7) was silent; resolved once
    assert "(0) is below the low threshold of 1" in texts[2]
    after = metrics_of(platform, "alert-system")

    def moved(**labels: str) -> float:
        name = "alert_state_transitions_total"
        return (metric(after, name, **labels) or 0) - (metric(before, name, **labels) or 0)

    assert moved(from_state="ok", to_state="high") >= 1
    assert moved(from_state="high", to_state="ok") >= 1
    assert metric(after, "alerts_emitted_total", kind="resolved")


def test_the_same_event_twice_reaches_telegram_once(platform: Platform, kafka: Kafka) -> None:
    email, chat = new_user(platform)
    event, marker = alert(email), alert(email, "LIRN")
    kafka.send(TO_NOTIFIER, event, key=email)
    kafka.send(TO_NOTIFIER, event, key=email)
    kafka.send(TO_NOTIFIER, marker, key=email)  # behind them on the same partition
    messages = wait_for_chat(platform, chat, 2)
    assert "LIRF" in messages[0].text and "LIRN" in messages[1].text
    assert len(chat_messages(platform, chat)) == 2
    with platform.client("alert-notifier") as notifier:
        log = notifier.get("/notifications", params={"email": email}).json()
    assert sorted((d["event_id"], d["status"]) for d in log) == sorted(
        [(event["event_id"], "sent"), (marker["event_id"], "sent")]
    )
    text = metrics_of(platform, "alert-notifier")
    assert (metric(text, "notifications_total", kind="alert", status="duplicate") or 0) >= 1


def test_telegram_429_waits_retry_after_and_sends_once(platform: Platform, kafka: Kafka) -> None:
    email, chat = new_user(platform)
    platform.telegram.queue_faults(Fault(status=429, retry_after=1))
    kafka.send(TO_NOTIFIER, alert(email), key=email)
    assert len(wait_for_chat(platform, chat, 1)) == 1
    attempts = [a for a in platform.telegram.attempts if a.chat_id == chat]
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[1].time - attempts[0].time >= 0.95  # sent after the wait Telegram asked for
    assert len(chat_messages(platform, chat)) == 1
    text = metrics_of(platform, "alert-notifier")
    assert metric(text, "telegram_errors_total", kind="rate_limited")
    assert metric(text, "telegram_request_duration_seconds_count")


def test_three_telegram_500s_then_200_send_once(platform: Platform, kafka: Kafka) -> None:
    email, chat = new_user(platform)
    platform.telegram.queue_faults(Fault(status=500), Fault(status=500), Fault(status=500))
    kafka.send(TO_NOTIFIER, alert(email), key=email)
    wait_for_chat(platform, chat, 1)
    attempts = [a for a in platform.telegram.attempts if a.chat_id == chat]
    assert [a.status for a in attempts] == [500, 500, 500, 200]
    assert attempts[-1].time - attempts[0].time >= 3.0  # backed off 0.5 + 1 + 2 s
    with platform.client("alert-notifier") as notifier:
        [delivery] = notifier.get("/notifications", params={"email": email}).json()
    assert (delivery["status"], delivery["attempts"]) == ("sent", 4)
    assert len(chat_messages(platform, chat)) == 1


MALFORMED = [
    b"not json at all",
    b"\xff\xfe\x00",
    b"[1, 2, 3]",
    encode({"event_id": "only-an-id"}),  # missing fields
    encode({"event_id": "e", "user_email": "a@b.io", "airport_code": "LIRF", "flight_count": "ten"}),  # wrong type
]


def test_malformed_messages_go_to_the_dead_letter_topics_and_the_next_one_is_handled(
    platform: Platform, kafka: Kafka
) -> None:
    email, chat = new_user(platform)
    key = f"bad-{uuid.uuid4().hex[:8]}"
    bad_alert = dict(alert(email), kind="sideways")
    bad_sla = {"event_id": "s", "metric": "m", "observed_value": "high", "breach_type": "low"}
    tails = {topic: kafka.tail(topic + ".dlq") for topic in (TO_ALERT_SYSTEM, TO_NOTIFIER, SLA_BREACH)}
    try:
        bad = {TO_ALERT_SYSTEM: MALFORMED, TO_NOTIFIER: [*MALFORMED, encode(bad_alert)]}
        bad[SLA_BREACH] = [*MALFORMED, encode(bad_sla)]
        for topic, values in bad.items():
            for value in values:
                kafka.send(topic, value, key=key, partition=0)
        # Good messages behind the bad ones, on the same partitions.
        kafka.send(TO_ALERT_SYSTEM, reading(email, "LIMC", 9, high=2), key=key, partition=0)
        kafka.send(TO_NOTIFIER, alert(email, "LIRQ"), key=key, partition=0)
        sla_id = str(uuid.uuid4())
        sla = {
            "event_id": sla_id,
            "timestamp": "2026-01-01T00:00:00Z",
            "metric": "pipeline_test",
            "query": "up",
            "observed_value": 0,
            "threshold_violated": 1,
            "breach_type": "low",
            "violations_count": 3,
        }
        kafka.send(SLA_BREACH, sla, key=key, partition=0)

        messages = wait_for_chat(platform, chat, 2)
        assert sorted("LIMC" in m.text for m in messages) == [False, True]
        assert any("LIRQ" in m.text for m in messages)
        with platform.client("alert-notifier") as notifier:
            assert wait_until(
                lambda: any(d["event_id"] == sla_id for d in notifier.get("/notifications").json()), timeout=15
            ), "the good sla_breach event after the bad ones was not handled"

        for topic, extra in ((TO_ALERT_SYSTEM, 0), (TO_NOTIFIER, 1), (SLA_BREACH, 1)):
            dead = tails[topic].wait_for(lambda r: r.key == key.encode(), len(MALFORMED) + extra, timeout=15)
            assert [r.value for r in dead][: len(MALFORMED)] == MALFORMED, topic
            assert len(dead) == len(MALFORMED) + extra, topic
            headers = dict(dead[0].headers)
            assert headers["error"] and headers["source"].decode().startswith(topic + "/0/")
    finally:
        for tail in tails.values():
            tail.close()
    for service, topic in (("alert-system", TO_ALERT_SYSTEM), ("alert-notifier", TO_NOTIFIER)):
        text = metrics_of(platform, service)
        dead_letters = metric(text, "kafka_messages_consumed_total", topic=topic, outcome="dead_letter")
        assert (dead_letters or 0) >= len(MALFORMED)
        assert (metric(text, "kafka_messages_produced_total", topic=topic + ".dlq") or 0) >= len(MALFORMED)


def test_consumer_lag_is_exported_per_service_and_topic(platform: Platform) -> None:
    for service, topics in (("alert-system", [TO_ALERT_SYSTEM]), ("alert-notifier", [TO_NOTIFIER, SLA_BREACH])):
        for topic in topics:

            def caught_up(service: str = service, topic: str = topic) -> bool:
                value = metric(metrics_of(platform, service), "kafka_consumer_lag", service=service, topic=topic)
                return value == 0

            assert wait_until(caught_up, timeout=15), f"{service} reports no zero lag for {topic}"


def test_a_burst_of_events_is_sent_once_each_within_telegrams_limits(platform: Platform, kafka: Kafka) -> None:
    users = [new_user(platform) for _ in range(6)]
    events = [(email, chat, alert(email, f"LB{n:02d}")) for n in range(4) for email, chat in users]
    for email, _chat, event in events:  # 24 events, 4 per chat, produced at once
        kafka.send(TO_NOTIFIER, event, key=email)
    for _email, chat in users:
        wait_for_chat(platform, chat, 4, timeout=60)
    sent = [m for m in platform.telegram.messages if any(m.chat_id == chat for _e, chat in users)]
    assert len(sent) == len(events)
    for _email, chat in users:
        mine = [m for m in sent if m.chat_id == chat]
        assert [m.text.split("</b>")[0][-4:] for m in mine] == ["LB00", "LB01", "LB02", "LB03"]  # in order
        gaps = [b.time - a.time for a, b in itertools.pairwise(mine)]
        assert min(gaps) >= 0.9, gaps  # one per second per chat (the fake's clock, not the limiter's)
    with platform.client("alert-notifier") as notifier:
        logged = [notifier.get("/notifications", params={"email": email}).json() for email, _chat in users]
    statuses = {d["event_id"]: d["status"] for log in logged for d in log}
    assert all(statuses.get(event["event_id"]) == "sent" for _e, _c, event in events)
