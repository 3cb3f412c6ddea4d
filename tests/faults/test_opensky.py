"""OpenSky failing under live traffic: 5xx answers until the circuit breaker opens, a call slow
past the timeout, then rate limiting (429 with a retry time). The breaker opens, no simulated
(``mock``) day is stored while the fallback is off (the test platform's setting), no
collection hangs, and once OpenSky answers again every alert is delivered once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flightctl.platform.proc import wait_until
from tests.conftest import Platform, run_flightctl
from tests.fakes.opensky import Fault
from tests.faults.conftest import Stopwatch
from tests.faults.traffic import Traffic
from tests.prometheus import sample

AIRPORTS = tuple(
    [
        "LEAB",
        "LEAL",
        "LEAM",
        "LEAS",
        "LEBA",
        "LEBB",
        "LEBG",
        "LEBZ",
        "LECH",
        "LECO",
        "LEDA",
        "LEGE",
        "LEHC",
        "LEIB",
        "LEJR",
        "LELN",
        "LELO",
        "LEMG",
        "LEMH",
        "LEMI",
        "LEMO",
        "LEPA",
        "LEPP",
        "LERL",
        "LERS",
        "LESA",
        "LESO",
        "LEST",
        "LESU",
        "LETL",
        "LETO",
        "LEVC",
        "LEVD",
        "LEVT",
        "LEVX",
        "LEXJ",
        "LEZG",
        "LEZL",
        "LFAB",
        "LFAC",
        "LFAQ",
        "LFAT",
        "LFBA",
        "LFBD",
        "LFBE",
        "LFBG",
        "LFBH",
        "LFBI",
        "LFBK",
        "LFBL",
        "LFBN",
        "LFBP",
        "LFBT",
        "LFBU",
        "LFBX",
        "LFBZ",
        "LFCC",
        "LFCI",
        "LFCK",
        "LFCR",
        "LFCY",
        "LFDN",
        "LFEY",
        "LFGA",
        "LFGJ",
        "LFHM",
        "LFHO",
        "LFHP",
        "LFHS",
        "LFHU",
        "LFHY",
        "LFJL",
        "LFJR",
        "LFKB",
        "LFKC",
        "LFKF",
        "LFKJ",
        "LFKO",
        "LFKS",
        "LFKX",
        "LFLA",
        "LFLB",
        "LFLC",
        "LFLD",
        "LFLJ",
        "LFLL",
        "LFLN",
        "LFLO",
        "LFLP",
        "LFLS",
        "LFLU",
        "LFLV",
        "LFLW",
        "LFLX",
        "LFLY",
        "LFMA",
        "LFMD",
        "LFMH",
        "LFMK",
        "LFML",
        "LFMN",
        "LFMP",
    ]
)
"""Airports no other test watches: each new one makes the next collection call OpenSky (one a second)."""
TIMEOUT = 2.0
QUICK = {"OPENSKY_TIMEOUT_SECONDS": str(TIMEOUT), "CIRCUIT_FAIL_MAX": "3", "CIRCUIT_RESET_SECONDS": "5"}


@pytest.fixture
def quick_opensky(platform: Platform) -> Iterator[None]:
    """data-collector with a 2 s OpenSky timeout and a breaker that opens after 3 failures for
    5 s (`up` restarts it with the changed settings); the session's settings again after."""
    run_flightctl({**platform.env, **QUICK}, "up", "--local", "--timeout", "240", timeout=600)
    try:
        yield
    finally:
        platform.opensky.clear_faults()
        platform.restore()


def metrics(platform: Platform) -> str:
    try:
        return httpx.get(platform.url("data-collector") + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


def calls(platform: Platform, outcome: str) -> float:
    """OpenSky calls data-collector made with that outcome (timeout, rate_limited, ...)."""
    return sample(metrics(platform), "opensky_calls_total", outcome=outcome) or 0.0


def breaker_open(platform: Platform) -> bool:
    try:
        metrics = httpx.get(platform.url("data-collector") + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return False
    return sample(metrics, "opensky_circuit_open") == 1


def test_opensky_failing_slow_and_rate_limiting_open_the_breaker_and_nothing_hangs(
    platform: Platform, quick_opensky: None, results: dict[str, Any]
) -> None:
    opensky = platform.opensky
    traffic = Traffic(platform, AIRPORTS[0], collect_every=1.0, more_airports=AIRPORTS[1:], pause=1.0)
    with traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()

        # Failing: three 503s in a row open the breaker; the call after the reset time (5 s)
        # is slow past the timeout, a failure too: the breaker opens again.
        opensky.queue_faults(*[Fault(status=503)] * 3, Fault(delay=TIMEOUT * 2))
        assert wait_until(lambda: breaker_open(platform), 30), "the breaker did not open"
        opened = Stopwatch()
        assert wait_until(lambda: calls(platform, "timeout") >= 1, 30), "the slow call was never made"
        assert breaker_open(platform), "a timeout is a failure: the breaker opens again"
        assert opened() >= 5 - 0.5, "OpenSky was called while the breaker was open"
        assert traffic.wait_for_people(1), traffic.seen.summary()  # users are served meanwhile

        # Rate limited: a 429 is neither a success nor a failure; the calls wait its retry time.
        rate_limited = calls(platform, "rate_limited")
        opensky.queue_faults(*[Fault(status=429, retry_after=3)] * 2)
        assert wait_until(lambda: opensky.pending_faults == 0, 60), "the rate-limited calls were never made"
        assert calls(platform, "rate_limited") >= rate_limited + 2
        assert wait_until(lambda: not breaker_open(platform), 60), "the breaker did not close again"
        assert traffic.wait_for_people(2), traffic.seen.summary()

    traffic.assert_nothing_lost_or_duplicated()
    assert "mock" not in traffic.sources, traffic.sources  # the fallback is off: nothing simulated
    assert traffic.sources["unavailable"] > 0, traffic.sources  # users saw the airport unavailable meanwhile
    assert traffic.seen.slowest["POST /collect"] < 30, traffic.seen.slowest  # nothing hung
    results["opensky"] = {
        "sources_seen": dict(traffic.sources),
        "slowest_collect_seconds": traffic.seen.slowest["POST /collect"],
        "people": sum(p.complete for p in traffic.people),
        "answers": traffic.seen.summary(),
    }
