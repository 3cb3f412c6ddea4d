"""alert-system as a group of processes: crashes (SIGKILL at each point of a batch between
consuming and committing, mid-produce included, through the test-only FLIGHTCTL_FAULT_INJECT
hook) end in exactly one Telegram message per alert, and three instances in one consumer group
handle every reading once."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flightctl.platform.proc import wait_until
from flightctl.services.alert_system.faults import POINTS
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, TO_NOTIFIER
from tests.conftest import Platform
from tests.integration.pipeline.helpers import (
    EXTRA_PORTS,
    Kafka,
    chat_messages,
    group_members,
    healthy,
    metric,
    new_user,
    reading,
    spawned,
    wait_for_chat,
)

GROUP = "alert-system"
# The broker's minimum: a killed instance's partitions move on after 6 s instead of 10.
FAST_REBALANCE = {"KAFKA_SESSION_TIMEOUT_MS": "6000"}


@pytest.fixture
def kafka(platform: Platform) -> Iterator[Kafka]:
    client = Kafka(platform.status["kafka"])
    yield client
    client.close()


def test_a_crash_anywhere_in_a_batch_sends_exactly_one_message_per_alert(
    platform: Platform, kafka: Kafka, tmp_path: Path
) -> None:
    users = [new_user(platform) for _ in range(3)]
    emails = [email.encode() for email, _ in users]
    airport = "LIMF"
    log = tmp_path / "alert-system.log"
    with kafka.tail(TO_NOTIFIER) as notes:
        platform.stop("alert-system")  # our processes are the group's only members
        restored = False
        try:
            # Same key, same partition, all there before an instance starts: one batch of three
            # readings, each a new breach (three notifications).
            for email, _chat in users:
                kafka.send(TO_ALERT_SYSTEM, reading(email, airport, 9, high=4), key=airport)
            # One instance after another crashes on the same (redelivered) batch.
            for n, point in enumerate(POINTS):
                fault = {"FLIGHTCTL_FAULT_INJECT": f"alert-system:{point}", **FAST_REBALANCE}
                with spawned(platform, "alert-system", EXTRA_PORTS[n], log, **fault) as proc:
                    assert wait_until(lambda p=proc: p.poll() is not None, timeout=60), f"no crash at {point}"
                    assert proc.returncode == -signal.SIGKILL, f"{point}: exit {proc.returncode}"
            # before-produce produced nothing; mid-produce the batch's first notification only;
            # after-produce and after-record each all three, with the same event ids (derived
            # from the readings').
            produced = notes.wait_for(lambda r: r.key in emails, 7, timeout=10)
            copies = [[r.value for r in produced if r.key == e] for e in emails]
            assert [len(c) for c in copies] == [3, 2, 2], log.read_text()[-3000:]
            assert all(len(set(c)) == 1 for c in copies)
            # The platform's own instance comes back, gets the batch once more and drops it
            # (already recorded); readings queued behind it show that it went past.
            platform.restore()
            restored = True
            for email, _chat in users:
                kafka.send(TO_ALERT_SYSTEM, reading(email, airport, 1, high=4), key=airport)
            produced = notes.wait_for(lambda r: r.key in emails, 10, timeout=60)
        finally:
            if not restored:
                platform.restore()
    for email in emails:
        kinds = [json.loads(r.value)["kind"] for r in produced if r.key == email]
        assert kinds[-1] == "resolved" and set(kinds[:-1]) == {"high"}, log.read_text()[-3000:]
    # The notifier drops the repeated events: one alert, then one resolution, per user.
    for _email, chat in users:
        messages = wait_for_chat(platform, chat, 2)
        assert "(9) exceeded the high threshold of 4" in messages[0].text
        assert "back within" in messages[1].text
        assert len(chat_messages(platform, chat)) == 2


def consumed(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return metric(text, "kafka_messages_consumed_total", topic=TO_ALERT_SYSTEM, outcome="ok") or 0


def lag_of(port: int) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return metric(text, "kafka_consumer_lag", service="alert-system", topic=TO_ALERT_SYSTEM)


def test_three_instances_in_one_group_handle_every_reading_once(
    platform: Platform, kafka: Kafka, tmp_path: Path
) -> None:
    main_port = int(platform.url("alert-system").rsplit(":", 1)[1])
    ports = [main_port, EXTRA_PORTS[10], EXTRA_PORTS[11]]
    log = tmp_path / "alert-system.log"
    total = 30
    run = uuid.uuid4().hex[:8]
    emails = {f"scale-{n}-{run}@example.com" for n in range(total)}
    with (
        kafka.tail(TO_NOTIFIER) as notes,
        spawned(platform, "alert-system", ports[1], log),
        spawned(platform, "alert-system", ports[2], log),
    ):
        assert wait_until(lambda: all(healthy(p) for p in ports[1:]), timeout=60), log.read_text()[-3000:]
        assert wait_until(lambda: group_members(kafka.bootstrap, GROUP) == ("Stable", 3), timeout=60), group_members(
            kafka.bootstrap, GROUP
        )
        before = [consumed(p) for p in ports]
        for n, email in enumerate(sorted(emails)):
            # Every partition gets readings; every reading is a new breach (one notification).
            kafka.send(TO_ALERT_SYSTEM, reading(email, "EDDM", 5, high=1), key="EDDM", partition=n % 3)
        produced = notes.wait_for(lambda r: r.key.decode() in emails, total, timeout=60)
        assert wait_until(lambda: sum(consumed(p) for p in ports) - sum(before) >= total, timeout=15)
        done = [consumed(p) - b for p, b in zip(ports, before, strict=True)]
        assert wait_until(lambda: all(lag_of(p) == 0 for p in ports), timeout=15)
        # Nothing more arrives for them: the three consumed exactly `total` readings together.
        assert sum(done) == total, done
    assert all(d > 0 for d in done), f"an instance got no partition: {done}"
    assert len(produced) == total
    assert {json.loads(r.value)["user_email"] for r in produced} == emails
    assert len({json.loads(r.value)["event_id"] for r in produced}) == total
