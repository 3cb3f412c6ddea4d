"""SIGKILL of each service in turn, under live traffic: the supervisor brings it back healthy,
`flightctl status` shows the restart and its reason, and no user, interest or alert is lost
or duplicated."""

from __future__ import annotations

import functools
from typing import Any

from flightctl.platform.layout import SERVICES
from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.faults.conftest import Stopwatch, health, kill, status, supervision
from tests.faults.traffic import Traffic


def test_each_service_killed_in_turn_is_restarted_and_nothing_is_lost(
    platform: Platform, results: dict[str, Any]
) -> None:
    before = {s: int(supervision(platform, s).get("restarts", 0)) for s in SERVICES}
    recovery: dict[str, float] = {}

    def back(service: str, killed: int) -> bool:
        """Running again as another process, and healthy."""
        child = supervision(platform, service).get("child_pid")
        return child not in (None, killed) and health(platform, service) == 200

    with Traffic(platform, "LIEE") as traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()
        for service in SERVICES:
            killed = kill(platform, service)
            watch = Stopwatch()
            assert wait_until(functools.partial(back, service, killed), 60), supervision(platform, service)
            recovery[service] = watch()
            assert traffic.wait_for_people(1), traffic.seen.summary()  # users are served again
    shown = status(platform)["services"]
    for service in SERVICES:
        assert shown[service]["healthy"] is True
        assert shown[service]["restarts"] == before[service] + 1, shown[service]
        assert shown[service]["last_exit"] == "SIGKILL", shown[service]
    table = platform.flightctl("status").stdout
    assert "RESTARTS" in table and "SIGKILL" in table, table

    traffic.assert_nothing_lost_or_duplicated()
    results["sigkill"] = {
        "recovery_seconds": recovery,
        "people": sum(p.complete for p in traffic.people),
        "answers": traffic.seen.summary(),
    }
