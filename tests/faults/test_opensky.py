"""OpenSky failing under live traffic: 5xx answers until the circuit breaker opens, a call slow
past the timeout, then rate limiting (429 with a retry time). The breaker opens and refuses calls
until its reset time, no simulated (``mock``) day is stored while the fallback is off (the test
platform's setting), no collection hangs, and once OpenSky answers again every alert is
delivered once."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, delete

from flightctl.platform.proc import wait_until
from flightctl.services.data_collector.models import CreditUsage
from tests.conftest import Platform, run_flightctl
from tests.fakes.opensky import INITIAL_CREDITS, Fault, make_flight
from tests.faults.traffic import Traffic
from tests.prometheus import sample

TIMEOUT = 2.0
QUICK = {"OPENSKY_TIMEOUT_SECONDS": str(TIMEOUT), "CIRCUIT_FAIL_MAX": "3", "CIRCUIT_RESET_SECONDS": "5"}
FAILING, RATE_LIMITED = ("LEAB", "LEAL"), "LEAM"
"""Airports no other test watches: an interest in one makes the next collection call OpenSky
(twice: arrivals and departures of yesterday) until its day is stored."""


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


@contextmanager
def credits_restored(platform: Platform) -> Iterator[None]:
    """A 429 means OpenSky's credits for the day are spent (the ledger waits for the next day),
    so after the block the test gives the credits back as the next day would, on both sides:
    the collector's ledger is emptied and the fake OpenSky's buckets are full again. (Putting
    back what the ledger held before is not enough: the whole session's collections spend the
    same day's credits, and by this test what was left may not pay for a call.)"""
    engine = create_engine(platform.database_url("data-collector"))
    try:
        yield
    finally:
        platform.opensky.set_credits(INITIAL_CREDITS)
        with engine.begin() as connection:
            connection.execute(delete(CreditUsage.__table__))
        engine.dispose()


def credits(platform: Platform) -> object:
    """The collector's credits as it reports them (for a failure's message)."""
    try:
        with platform.client("data-collector") as collector:
            return collector.get("/collector/status").json().get("credits")
    except (httpx.HTTPError, ValueError) as exc:
        return exc


def metrics(platform: Platform) -> str:
    try:
        return httpx.get(platform.url("data-collector") + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


def calls(platform: Platform, outcome: str) -> float:
    """OpenSky calls data-collector made with that outcome (timeout, rate_limited, ...)."""
    return sample(metrics(platform), "opensky_calls_total", outcome=outcome) or 0.0


def breaker_open(platform: Platform) -> bool:
    return sample(metrics(platform), "opensky_circuit_open") == 1


def test_opensky_failing_slow_and_rate_limiting_open_the_breaker_and_nothing_hangs(
    platform: Platform, quick_opensky: None, results: dict[str, Any]
) -> None:
    opensky = platform.opensky
    day = int(time.time())
    day -= day % 86400 + 36000
    opensky.add_flights(
        make_flight(f"o{code}{n}", day - 7200, day - 3600, departure=code, arrival="LIRF")
        for code in (*FAILING, RATE_LIMITED)
        for n in range(2)
    )
    chat = str(random.randint(10**9, 10**10))
    watcher = platform.create_user("opensky", chat_id=chat)

    def watch(airport: str) -> None:
        with platform.client("data-collector") as collector:
            body = {"email": watcher, "airport_code": airport, "high_value": 1}
            assert collector.post("/interests", json=body).status_code == 201

    with Traffic(platform, "LIEE", collect_every=1.0) as traffic:
        assert traffic.wait_for_people(2), traffic.seen.summary()
        timeouts, refused = calls(platform, "timeout"), calls(platform, "circuit_open")

        # Failing: the calls for two new airports meet three 503s (the breaker opens) and one
        # call slow past the timeout (the calls of a collection run concurrently).
        opensky.queue_faults(*[Fault(status=503)] * 3, Fault(delay=TIMEOUT * 2))
        for airport in FAILING:
            watch(airport)
        assert wait_until(lambda: breaker_open(platform), 30), "the breaker did not open"
        assert wait_until(lambda: calls(platform, "circuit_open") > refused, 30), "the open breaker refused no call"
        assert wait_until(lambda: calls(platform, "timeout") > timeouts, 30), "the slow call was never made"
        assert traffic.wait_for_people(1), traffic.seen.summary()  # users are served meanwhile
        assert wait_until(lambda: not breaker_open(platform), 30), "the breaker did not close after its reset"

        # Rate limited: a 429 is neither a success nor a failure for the breaker; it means the
        # day's credits are spent, so the airport waits (deferred, not simulated, not lost).
        rate_limited = calls(platform, "rate_limited")
        with credits_restored(platform):
            opensky.queue_faults(*[Fault(status=429, retry_after=3)] * 2)
            watch(RATE_LIMITED)
            assert wait_until(lambda: opensky.pending_faults == 0, 60), traffic.errors.get(RATE_LIMITED)
            assert calls(platform, "rate_limited") > rate_limited
            collections = traffic.seen.answers["POST /collect"]["200"]
            assert wait_until(lambda: traffic.seen.answers["POST /collect"]["200"] >= collections + 2, 60)
            assert "credits" in str(traffic.errors.get(RATE_LIMITED)), traffic.errors  # deferred, said so
            assert not breaker_open(platform), "a 429 is not a failure"
            assert traffic.wait_for_people(2), traffic.seen.summary()

        # The next day's credits (given back above): the waiting airport is fetched; every
        # alert of the watched airports arrives, one message each.
        def alerted() -> list[str]:
            return [m.text for m in platform.telegram.messages if m.chat_id == chat]

        assert wait_until(lambda: len(alerted()) >= 3, 90), (
            f"alerted: {alerted()}; {RATE_LIMITED}: {traffic.errors.get(RATE_LIMITED)}; credits: {credits(platform)}"
        )

    traffic.assert_nothing_lost_or_duplicated()
    texts = alerted()
    assert sorted(a for a in (*FAILING, RATE_LIMITED) if any(f"<b>{a}</b>" in t for t in texts)) == sorted(
        (*FAILING, RATE_LIMITED)
    ), texts
    assert len(texts) == 3, texts  # once each
    sources = {a: dict(traffic.sources.get(a, {})) for a in (*FAILING, RATE_LIMITED)}
    assert not any("mock" in s for s in sources.values()), sources  # the fallback is off: nothing simulated
    assert any("unavailable" in sources[a] for a in FAILING), sources  # what users saw meanwhile
    assert traffic.seen.slowest["POST /collect"] < 30, traffic.seen.slowest  # nothing hung
    results["opensky"] = {
        "sources_seen": sources,
        "slowest_collect_seconds": traffic.seen.slowest["POST /collect"],
        "calls": {o: calls(platform, o) for o in ("timeout", "circuit_open", "rate_limited")},
        "people": sum(p.complete for p in traffic.people),
        "answers": traffic.seen.summary(),
    }
