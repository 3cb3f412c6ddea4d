"""The infrastructure failing under live traffic: the Kafka broker stopped for 30 s while
collections run, then started again; PostgreSQL restarted. Nothing may be lost or duplicated,
and the services must get through it without being restarted themselves."""

from __future__ import annotations

import time
from typing import Any

from flightctl.platform.layout import SERVICES
from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.faults.conftest import Stopwatch, health, supervision
from tests.faults.traffic import Traffic

KAFKA_OUTAGE = 30.0
DATABASE_SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier")


def processes(platform: Platform) -> dict[str, tuple[Any, Any]]:
    """Each service's process and restart count: unchanged when it was not restarted."""
    return {s: (supervision(platform, s).get("child_pid"), supervision(platform, s).get("restarts")) for s in SERVICES}


def test_kafka_stopped_for_30_seconds_loses_no_message_of_the_collections(
    platform: Platform, results: dict[str, Any]
) -> None:
    before = processes(platform)
    with Traffic(platform, "LIEE") as traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()
        collected = traffic.collections_started
        platform.stop("kafka")
        spanned = traffic.collecting  # a collection under way when the broker went
        watch = Stopwatch()
        try:
            # The outage lasts 30 s and spans collections (one every 2 s) and new users.
            assert wait_until(lambda: time.monotonic() - watch.began >= KAFKA_OUTAGE, KAFKA_OUTAGE + 5, 0.5)
            during = traffic.collections_started - collected
            assert during > 0 or spanned, "no collection ran during the outage"
        finally:
            platform.restore()
        outage = watch()
        assert traffic.wait_for_people(2), traffic.seen.summary()
    traffic.assert_nothing_lost_or_duplicated()
    assert processes(platform) == before, "a service was restarted"
    results["kafka_outage"] = {
        "outage_seconds": outage,
        "people": sum(p.complete for p in traffic.people),
        "answers": traffic.seen.summary(),
    }


def test_postgresql_restarted_is_503_meanwhile_and_the_services_recover_on_their_own(
    platform: Platform, results: dict[str, Any]
) -> None:
    before = processes(platform)
    with Traffic(platform, "LIEE") as traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()
        platform.stop("postgres")
        watch = Stopwatch()
        try:
            assert wait_until(lambda: all(health(platform, s) == 503 for s in DATABASE_SERVICES), 30), {
                s: health(platform, s) for s in DATABASE_SERVICES
            }
            unhealthy_after = watch()
        finally:
            platform.restore()
        assert wait_until(lambda: all(health(platform, s) == 200 for s in SERVICES), 60)
        recovered_after = watch()
        assert traffic.wait_for_people(2), traffic.seen.summary()
    traffic.assert_nothing_lost_or_duplicated()
    assert processes(platform) == before, "a service was restarted"
    results["postgres_restart"] = {
        "all_503_after_seconds": unhealthy_after,
        "all_healthy_after_seconds": recovered_after,
        "people": sum(p.complete for p in traffic.people),
        "answers": traffic.seen.summary(),
    }
