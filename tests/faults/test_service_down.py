"""A service stopped under live traffic: with user-manager down, creating an interest answers
503 (data-collector cannot check the user) and every user the traffic makes waits and completes
once it is back; with data-collector down, a user's deletion is accepted and completes later
through user-manager's outbox."""

from __future__ import annotations

import uuid
from typing import Any

from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.faults.conftest import Stopwatch
from tests.faults.traffic import Traffic


def test_user_manager_down_is_503_for_interests_and_a_deletion_completes_through_the_outbox(
    platform: Platform, results: dict[str, Any]
) -> None:
    outside = platform.create_user("down")  # a user of this test, beside the traffic's
    with Traffic(platform, "LIEE") as traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()

        platform.stop("user-manager")
        watch = Stopwatch()
        try:
            with platform.client("data-collector") as collector:
                refused = collector.post("/interests", json={"email": outside, "airport_code": "LIRA"})
            assert refused.status_code == 503, refused.text
            assert "user-manager" in refused.json()["error"]
            # the traffic's users meanwhile: interests refused (503), or user-manager unreachable
            assert wait_until(
                lambda: traffic.seen.answers["POST /interests"]["503"] > 0 or traffic.seen.count("ConnectError") > 0,
                20,
            ), traffic.seen.summary()
        finally:
            platform.restore()
        user_manager_back = watch()
        assert traffic.wait_for_people(2), traffic.seen.summary()

        with platform.client("data-collector") as collector, platform.client("user-manager") as users:
            assert collector.post("/interests", json={"email": outside, "airport_code": "LIRA"}).status_code == 201
            platform.stop("data-collector")
            watch = Stopwatch()
            try:
                deleted = users.delete(f"/users/{outside}", headers={"Idempotency-Key": str(uuid.uuid4())})
                assert deleted.status_code == 200, deleted.text
                assert users.get(f"/users/{outside}").status_code == 404
            finally:
                platform.restore()
            assert wait_until(lambda: collector.get(f"/interests/{outside}").json()["interests"] == [], 30)
            deletion_completed = watch()
        assert traffic.wait_for_people(1), traffic.seen.summary()
    traffic.assert_nothing_lost_or_duplicated()
    refused_interests = traffic.seen.answers["POST /interests"]["503"]
    results["service_down"] = {
        "user_manager_down_seconds": user_manager_back,
        "deletion_completed_after_seconds": deletion_completed,
        "interests_refused_503": refused_interests,
        "people": sum(p.complete for p in traffic.people),
        "answers": traffic.seen.summary(),
    }
