"""A user who watches one airport both ways, a daily and a live interest, on the real platform:
each kind alerts once and resolves once on its own, from the collector to Telegram; and each
kind's state survives a restart of alert-system without touching the other's."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import airportsdata
import pytest

from flightctl.services.common.kafka import TO_ALERT_SYSTEM
from tests.conftest import Platform
from tests.fakes.opensky import make_flight, make_state
from tests.fakes.telegram import SentMessage
from tests.integration.pipeline.helpers import Kafka, chat_messages, new_user, reading, wait_for_chat

DAILY_HIGH, DAILY_RESOLVED = "too many flights", "back to normal"
LIVE_HIGH, LIVE_RESOLVED = "too much live traffic", "live traffic normal"


@pytest.fixture
def kafka(platform: Platform) -> Iterator[Kafka]:
    client = Kafka(platform.status["kafka"])
    yield client
    client.close()


def headlines(messages: list[SentMessage], airport: str) -> list[str]:
    """The headline of each message (``✈️ <b>LIEO</b>: too many flights`` -> ``too many flights``)."""
    out = []
    for m in messages:
        first = m.text.splitlines()[0]
        assert f"<b>{airport}</b>: " in first, m.text
        out.append(first.split(": ", 1)[1])
    return out


def test_a_daily_and_a_live_interest_in_one_airport_each_alert_once(platform: Platform) -> None:
    airport = "LIEO"  # Olbia: no other test watches it or puts aircraft near it
    where = airportsdata.load("ICAO")[airport]
    email, chat = new_user(platform)
    tag = uuid.uuid4().hex[:4]
    day = int(time.time())
    day -= day % 86400 + 36000  # 14:00 yesterday (UTC): the latest complete day, as OpenSky serves it
    platform.opensky.add_flights(
        [
            make_flight(f"e{tag}1", day - 7200, day - 3600, departure=airport, arrival="LIRF"),
            make_flight(f"e{tag}2", day - 6000, day - 2400, departure="LIML", arrival=airport),
            make_flight(f"e{tag}3", day - 5000, day - 1200, departure=airport, arrival="EGLL"),
        ]
    )
    now = int(time.time())
    platform.opensky.set_states(
        [
            *platform.opensky.states,
            make_state(f"e{tag}a", where["lat"], where["lon"], on_ground=True, at=now),
            make_state(f"e{tag}b", where["lat"] + 0.05, where["lon"], altitude=800.0, at=now),
        ]
    )
    key = {"email": email, "airport_code": airport}
    with platform.client("data-collector") as dc:
        for body in ({**key, "high_value": 1}, {**key, "high_value": 1, "live": True}):  # 3 flights, 2 aircraft
            added = dc.post("/interests", json=body)
            assert added.status_code == 201, added.text
        collected = dc.post("/collect")
        assert collected.status_code == 200, collected.text
        mine = {a["airport"]: a for a in collected.json()["airports"]}[airport]
        assert (mine["flight_count"], mine["live_count"]) == (3, 2), mine

        first = wait_for_chat(platform, chat, 2, timeout=60)
        assert sorted(headlines(first, airport)) == sorted([DAILY_HIGH, LIVE_HIGH])
        by_headline = {h: m for h, m in zip(headlines(first, airport), first, strict=True)}
        assert "(3) exceeded the high threshold of 1" in by_headline[DAILY_HIGH].text
        assert "(2) exceeded the high threshold of 1" in by_headline[LIVE_HIGH].text

        # Both back inside: one resolved each. The readings of the airport share a partition, and
        # the user's alerts another: a repeated high would arrive before these.
        assert dc.put("/interests", json={**key, "high_value": 100}).status_code == 200
        assert dc.put("/interests", json={**key, "high_value": 100, "live": True}).status_code == 200
        assert dc.post("/collect").status_code == 200
        messages = wait_for_chat(platform, chat, 4, timeout=60)
    got = headlines(messages, airport)
    assert sorted(got[:2]) == sorted([DAILY_HIGH, LIVE_HIGH]), got
    assert sorted(got[2:]) == sorted([DAILY_RESOLVED, LIVE_RESOLVED]), got
    with platform.client("alert-notifier") as notifier:
        log = notifier.get("/notifications", params={"email": email}).json()
    assert sorted(d["status"] for d in log) == ["sent"] * 4
    with platform.client("data-collector") as dc:
        for live in (False, True):
            assert dc.request("DELETE", "/interests", json={**key, "live": live}).status_code == 200


def test_each_kinds_state_survives_a_restart_of_alert_system(platform: Platform, kafka: Kafka) -> None:
    airport = "LIPY"
    email, chat = new_user(platform)

    def send(count: int, *, live: bool) -> None:
        value = reading(email, airport, count, high=20 if live else 4, low=2 if live else 1)
        kafka.send(TO_ALERT_SYSTEM, {**value, "live": live}, key=airport)

    send(9, live=False)
    send(25, live=True)
    assert headlines(wait_for_chat(platform, chat, 2, timeout=60), airport) == [DAILY_HIGH, LIVE_HIGH]

    platform.stop("alert-system")
    try:
        send(9, live=False)  # still in breach, inside the repeat interval: quiet after the restart
        send(26, live=True)
        send(10, live=True)  # the live breach ends; the daily one goes on
        send(9, live=False)
        send(3, live=False)  # now the daily one ends
    finally:
        platform.restore()
    messages = wait_for_chat(platform, chat, 4, timeout=90)
    assert headlines(messages, airport) == [DAILY_HIGH, LIVE_HIGH, LIVE_RESOLVED, DAILY_RESOLVED]
    assert "(10) is back within the thresholds (low 2, high 20)" in messages[2].text
    assert "(3) is back within the thresholds (low 1, high 4)" in messages[3].text
    assert len(chat_messages(platform, chat)) == 4
