from __future__ import annotations

from typing import Any

import pytest

from flightctl.cli.ops import wait_healthy
from flightctl.errors import FlightctlError
from tests.fakes.clock import FakeClock


def status(**healthy: bool) -> dict[str, Any]:
    return {"services": {name.replace("_", "-"): {"healthy": ok} for name, ok in healthy.items()}}


def test_waits_until_every_service_is_healthy() -> None:
    answers = [
        FlightctlError("no local platform"),
        status(user_manager=False, alert_notifier=False),
        status(user_manager=True, alert_notifier=False),
        status(user_manager=True, alert_notifier=True),
    ]

    def fetch() -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock, messages = FakeClock(0.0), []
    result = wait_healthy(fetch, 30, messages.append, clock=clock, sleep=clock.sleep)
    assert result == status(user_manager=True, alert_notifier=True)
    assert clock.now == 3.0
    assert messages == [
        "waiting for: no local platform",
        "waiting for: alert-notifier, user-manager",
        "waiting for: alert-notifier",
    ]


def test_gives_up_after_the_timeout_naming_what_is_unhealthy() -> None:
    clock = FakeClock(0.0)
    with pytest.raises(FlightctlError, match=r"not healthy after 2.5s: data-collector"):
        wait_healthy(lambda: status(user_manager=True, data_collector=False), 2.5, clock=clock, sleep=clock.sleep)
    assert clock.now == 2.5  # never sleeps past the deadline
