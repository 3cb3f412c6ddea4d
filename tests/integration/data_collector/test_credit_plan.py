"""The credit-aware plan over whole simulated days, on a database of its own, against the fake
OpenSky that charges credits as OpenSky does, answers 429 past its budget and hides today's
flights (the nightly batch); the collector and the fake share one injected clock, and the
scheduled tick runs every 5 minutes of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import airportsdata
import pytest
from sqlalchemy import Engine

from tests.fakes.opensky import FakeOpenSky, Fault, make_flight
from tests.integration.data_collector.conftest import Rig, SimClock, make_rig

DAY0 = datetime(2026, 11, 20, tzinfo=UTC)  # the simulated day starts at 00:00
ID, SECRET = "plan-client", "plan-secret"
TICK = timedelta(minutes=5)
AIRPORTS = sorted(c for c, a in airportsdata.load("ICAO").items() if c.startswith("LI") and a["iata"])[:50]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(DAY0)


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeOpenSky]:
    with FakeOpenSky(client_id=ID, client_secret=SECRET, clock=clock.unix, credits_per_day=4000) as server:
        yield server


def standard(engine: Engine, fake: FakeOpenSky, clock: SimClock, **options: int) -> Rig:
    options.setdefault("credits_per_day", 4000)
    return make_rig(engine, fake.api_url, clock, token_url=fake.token_url, credentials=(ID, SECRET), **options)


def seed(fake: FakeOpenSky, airports: list[str], days: list[date]) -> None:
    """One arrival and one departure a day at each airport."""
    flights = []
    for n, airport in enumerate(airports):
        for day in days:
            t0 = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            flights.append(make_flight(f"{n:02x}{day.day:02d}a1", t0 + 3600, t0 + 7200, "EGLL", airport))
            flights.append(make_flight(f"{n:02x}{day.day:02d}d1", t0 + 36000, t0 + 39600, airport, "EDDF"))
    fake.add_flights(flights)


def run_day(rig: Rig, until: datetime) -> list[datetime]:
    """Tick every 5 minutes until ``until``; the time of every OpenSky flights call."""
    calls = []
    while rig.clock() < until:
        before = rig.sample("opensky_credits_used_total", family="flights")
        rig.collector.tick()
        if rig.sample("opensky_credits_used_total", family="flights") > before:
            calls.append(rig.clock())
        rig.clock.advance(seconds=TICK.total_seconds())
    return calls


def test_fifty_airports_on_a_standard_account_get_every_previous_day_without_a_429(
    own_database: Engine, fake: FakeOpenSky, clock: SimClock
) -> None:
    yesterday, before = date(2026, 11, 19), date(2026, 11, 18)
    seed(fake, AIRPORTS, [before, yesterday])
    rig = standard(own_database, fake, clock)
    rig.watch(*AIRPORTS)
    assert len(AIRPORTS) == 50

    run_day(rig, DAY0 + timedelta(days=1))

    assert fake.too_many == 0  # no 429 all day
    days = rig.days()
    lacking = [a for a in AIRPORTS if any(days.get((a, d, yesterday)) != "opensky" for d in ("arrival", "departure"))]
    assert lacking == []  # every airport's previous day is stored, from OpenSky
    clock.moment = DAY0 + timedelta(hours=23, minutes=59)  # still the simulated day for the fake's bucket
    used = rig.collector.ledger.budget("flights", DAY0)
    assert used.used == 4000 - fake.credits("flights") <= 4000 - 400  # never into the reserve
    assert used.used >= 100 * 30  # 50 airports x 2 directions, yesterday with the day before in one call
    # one flight stored per direction and day: the counts the readings were published with
    counts = {m.key: m.value["flight_count"] for m in rig.published if m.value["window_start"].startswith("2026-11-19")}
    assert counts == dict.fromkeys(AIRPORTS, 2)
    assert {m.value["source"] for m in rig.published} == {"opensky"}


def test_the_calls_are_spread_over_the_day_after_the_nightly_batch(
    own_database: Engine, fake: FakeOpenSky, clock: SimClock
) -> None:
    airports = AIRPORTS[:20]
    seed(fake, airports, [date(2026, 11, 19)])
    rig = standard(own_database, fake, clock, history_days=2)
    rig.watch(*airports)
    calls = run_day(rig, DAY0 + timedelta(days=1))
    yesterday_calls = [
        r for r in fake.flight_requests() if int(r.query["end"]) == int(DAY0.timestamp()) - 1
    ]  # every call ends with yesterday
    assert len(yesterday_calls) == 40 == len(calls)  # nothing else wanted: 20 airports, 2 directions
    assert min(calls) >= DAY0 + timedelta(hours=6)  # none before the batch is done
    assert max(calls) < DAY0 + timedelta(hours=23)  # done before the spreading window closes
    per_hour = Counter(c.hour for c in calls)
    assert max(per_hour.values()) <= 4  # 40 calls over 17 hours: no burst
    # the next day: nothing is asked twice; the new yesterday only, after its batch
    seen = len(fake.flight_requests())
    run_day(rig, DAY0 + timedelta(days=1, hours=6))
    assert len(fake.flight_requests()) == seen


def test_opensky_reporting_fewer_credits_shrinks_the_plan(
    own_database: Engine, fake: FakeOpenSky, clock: SimClock
) -> None:
    clock.advance(hours=7)
    rig = standard(own_database, fake, clock, history_days=1)
    rig.watch(*AIRPORTS[:30])
    fake.set_credits(1000)  # other clients of the account spent the rest: OpenSky says so with each answer
    run_day(rig, DAY0 + timedelta(hours=23))
    assert fake.too_many == 0
    budget = rig.collector.ledger.budget("flights", clock())
    assert budget.reported is not None and budget.remaining == fake.credits("flights")
    assert fake.credits("flights") >= 400  # the reserve is kept out of what OpenSky reported too
    status = rig.collector.status()
    assert status["credits"]["flights"]["deferred_calls"] > 0  # the rest waits for tomorrow's credits
    assert status["credits"]["flights"]["remaining"] == fake.credits("flights")


def test_a_429_stops_the_family_until_opensky_says(own_database: Engine, fake: FakeOpenSky, clock: SimClock) -> None:
    clock.advance(hours=12)
    rig = standard(own_database, fake, clock, credits_per_day=8000)  # the collector believes in a feeder account
    rig.watch(*AIRPORTS[:3])
    fake.set_credits(45)  # OpenSky knows better: one call more, then 429
    summary = rig.collector.run_cycle().as_dict()
    assert fake.too_many >= 1
    errors = [a["error"] for a in summary["airports"] if a["error"]]
    assert errors and any("rate limit" in e for e in errors)
    calls = len(fake.flight_requests())
    run_day(rig, DAY0 + timedelta(hours=23))  # the rest of the day: no call at all
    assert len(fake.flight_requests()) == calls
    assert rig.collector.status()["credits"]["flights"]["available"] == 0


def test_post_collect_stays_within_the_budget(own_database: Engine, fake: FakeOpenSky, clock: SimClock) -> None:
    clock.advance(hours=9)
    rig = standard(own_database, fake, clock, credits_per_day=200)  # reserve 20: 180 to plan, 6 calls
    rig.watch(*AIRPORTS[:5])
    summary = rig.collector.run_cycle().as_dict()
    assert summary["credits_used"] == 180 and len(fake.flight_requests()) == 6
    assert len(summary["deferred"]) == 4
    deferred = {a["airport"] for a in summary["airports"] if a["error"] and "reserve" in a["error"]}
    assert len(deferred) == 2
    assert fake.too_many == 0


def test_a_429_waited_out_past_midnight_leaves_the_new_day_its_credits(
    own_database: Engine, fake: FakeOpenSky, clock: SimClock
) -> None:
    """A 429 late in the day (OpenSky: retry in a minute) spends that day's credits. The first
    cycle after midnight, still inside that minute, is refused by the client itself without a
    call: that refusal is no news from OpenSky and must not mark the new day as spent too
    (it did: the new day's budget went to 0 until the next midnight)."""
    seed(fake, AIRPORTS[:2], [(DAY0 - timedelta(days=1)).date(), DAY0.date()])
    clock.advance(hours=23, minutes=59, seconds=30)
    rig = standard(own_database, fake, clock)
    rig.watch(*AIRPORTS[:2])
    fake.queue_faults(Fault(status=429, retry_after=60))
    rig.collector.run_cycle()
    assert rig.collector.status()["credits"]["flights"]["available"] == 0, "the 429 spends the day"
    calls = len(fake.flight_requests())

    clock.advance(seconds=40)  # the next day, within the minute (the client's wait is on its own clock)
    summary = rig.collector.run_cycle().as_dict()
    assert len(fake.flight_requests()) == calls, "no call before OpenSky's retry time"
    assert any("rate limit" in (a["error"] or "") for a in summary["airports"]), summary
    credits = rig.collector.status()["credits"]["flights"]
    assert (credits["used_today"], credits["available"]) == (0, 3600), credits
