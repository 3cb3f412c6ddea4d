"""Telegram failing under live traffic: 429s (retry_after), 5xx answers, then down (every
connection dropped) for a whole minute. Every alert made meanwhile is delivered once it is back,
exactly once."""

from __future__ import annotations

import time
from typing import Any

from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.fakes.telegram import Fault
from tests.faults.conftest import Stopwatch
from tests.faults.traffic import Traffic

OUTAGE = 60.0


def test_telegram_429s_5xx_and_a_minute_down_deliver_every_alert_once_after(
    platform: Platform, results: dict[str, Any]
) -> None:
    telegram = platform.telegram
    with Traffic(platform, "LIEE") as traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()
        telegram.queue_faults(
            *[Fault(status=429, retry_after=1)] * 3, *[Fault(status=500)] * 3, *[Fault(status=502)] * 2
        )
        assert wait_until(lambda: telegram.pending_faults == 0, 60), "the faults were never met"
        attempts = len(telegram.attempts)
        telegram.outage(Fault(down=True), OUTAGE)
        watch = Stopwatch()
        assert wait_until(lambda: time.monotonic() - watch.began >= OUTAGE, OUTAGE + 5, 0.5)
        dropped = sum(1 for a in telegram.attempts[attempts:] if a.description == "connection dropped")
        assert dropped > 0, "no alert was tried while Telegram was down"
        back = Stopwatch()
    traffic.assert_nothing_lost_or_duplicated(timeout=180)
    results["telegram"] = {
        "outage_seconds": OUTAGE,
        "attempts_dropped_during_outage": dropped,
        "all_delivered_seconds_after_return": back(),
        "people": sum(p.complete for p in traffic.people),
        "messages": len(telegram.messages),
    }
