"""ALERT_REPEAT_SECONDS on a real alert-system process: an unchanged breach is repeated no
sooner than the interval (never early), then resolved once; state lives in the database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flightctl.platform.proc import wait_until
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, TO_NOTIFIER
from tests.conftest import Platform
from tests.integration.pipeline.helpers import EXTRA_PORTS, Kafka, healthy, metric, new_user, reading, spawned

PORT = EXTRA_PORTS[20]
REPEAT = 3  # seconds (an integer setting)


@pytest.fixture
def kafka(platform: Platform) -> Iterator[Kafka]:
    client = Kafka(platform.status["kafka"])
    yield client
    client.close()


def handled() -> float:
    text = httpx.get(f"http://127.0.0.1:{PORT}/metrics", timeout=5).text
    return metric(text, "kafka_messages_consumed_total", topic=TO_ALERT_SYSTEM, outcome="ok") or 0


def test_an_unchanged_breach_repeats_after_the_interval_never_before(
    platform: Platform, kafka: Kafka, tmp_path: Path
) -> None:
    email, _chat = new_user(platform, chat=False)
    airport = "LIPZ"
    log = tmp_path / "alert-system.log"
    platform.stop("alert-system")  # this instance, with a short repeat, is the group's only member
    try:
        with (
            kafka.tail(TO_NOTIFIER) as notes,
            spawned(platform, "alert-system", PORT, log, ALERT_REPEAT_SECONDS=str(REPEAT)),
        ):
            assert wait_until(lambda: healthy(PORT), timeout=60), log.read_text()[-3000:]

            def send(count: int) -> None:
                before = handled()
                kafka.send(TO_ALERT_SYSTEM, reading(email, airport, count, high=4), key=airport)
                assert wait_until(lambda: handled() > before, timeout=30), log.read_text()[-3000:]

            def kinds() -> list[str]:
                notes.wait_for(lambda r: False, 1, timeout=0.5)  # read whatever arrives within 0.5 s
                return [json.loads(r.value)["kind"] for r in notes.records if r.key == email.encode()]

            send(9)
            first = time.monotonic()
            assert notes.wait_for(lambda r: r.key == email.encode(), 1, timeout=15)
            send(10)  # still above, well within the interval: quiet
            assert kinds() == ["high"]
            assert time.monotonic() - first < REPEAT, "the machine was too slow to test 'not before'"

            assert wait_until(lambda: time.monotonic() - first > REPEAT, timeout=REPEAT + 1)  # the interval passes
            send(11)  # still above, the interval is over: the repeat
            assert notes.wait_for(lambda r: r.key == email.encode(), 2, timeout=15)
            send(2)  # back within: one resolution
            send(3)  # still within: nothing more
            assert kinds() == ["high", "high", "resolved"]
    finally:
        platform.restore()
