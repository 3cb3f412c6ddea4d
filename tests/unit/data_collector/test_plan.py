"""The credit table, the budget and the plan, pure: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flightctl.services.data_collector.credits import Budget, flights_cost, reserve_of, states_cost
from flightctl.services.data_collector.plan import (
    BACKFILL,
    LATEST,
    LATEST_SIMULATED,
    SIMULATED,
    Fetch,
    fit,
    latest_complete_day,
    latest_only,
    make_plan,
    wanted,
)

DAY = 86400
NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)
SIX = timedelta(hours=6)


def d(day: int) -> date:
    return date(2026, 11, day)


def test_the_cost_table_follows_opensky() -> None:
    now = NOON.timestamp()
    start = int(datetime(2026, 11, 19, tzinfo=UTC).timestamp())
    assert flights_cost(int(now) - 3600, int(now), now) == 4  # live
    assert flights_cost(start, start + DAY - 1, now) == 30  # yesterday: one partition, not live
    assert flights_cost(start - DAY, start + DAY - 1, now) == 30  # two partitions cost the same
    assert flights_cost(start - DAY + 3600, start + DAY, now) == 180  # three partitions
    assert flights_cost(0, 10 * DAY - 1, now) == 600 and flights_cost(0, 20 * DAY - 1, now) == 20 * 480
    assert [states_cost(b) for b in ((0, 0, 5, 5), (0, 0, 10, 10), (0, 0, 20, 20), (0, 0, 21, 20), None)] == [
        1,
        2,
        3,
        4,
        4,
    ]


def test_the_budget_trusts_opensky_when_it_reports_less() -> None:
    budget = Budget("flights", d(20), 4000, reserve_of(4000, 10), used=100)
    assert (budget.remaining, budget.available(NOON)) == (3900, 3500)
    told = Budget("flights", d(20), 4000, 400, used=160, reported=1000, used_at_report=100)
    assert told.remaining == 940  # 1000 when 100 were spent, 60 since
    assert told.available(NOON) == 540
    blocked = Budget("flights", d(20), 4000, 400, blocked_until=NOON + timedelta(hours=1))
    assert blocked.available(NOON) == 0 and blocked.available(NOON + timedelta(hours=1)) == 3600
    assert reserve_of(400, 10) == 40 and reserve_of(4000, 0) == 0 and reserve_of(4000, 12.5) == 500


def test_yesterday_is_complete_once_the_nightly_batch_is_done() -> None:
    assert latest_complete_day(NOON, SIX) == d(19)
    assert latest_complete_day(datetime(2026, 11, 20, 5, 59, tzinfo=UTC), SIX) == d(18)
    assert latest_complete_day(datetime(2026, 11, 20, 6, tzinfo=UTC), SIX) == d(19)
    assert latest_complete_day(datetime(2026, 11, 20, 0, 1, tzinfo=UTC), timedelta(0)) == d(19)


def test_a_new_airport_wants_its_latest_day_first_then_a_back_fill_two_days_a_call() -> None:
    calls = wanted(["LIRF"], {}, d(19), 7)
    arrivals = [(f.first_day, f.last_day, f.priority) for f in calls if f.direction == "arrival"]
    assert arrivals == [
        (d(18), d(19), LATEST),  # the latest day, and the one before in the same call
        (d(16), d(17), BACKFILL),
        (d(14), d(15), BACKFILL),
        (d(13), d(13), BACKFILL),
    ]
    assert len(calls) == 8 and {f.cost(NOON) for f in calls} == {30}
    window = calls[0].window()
    assert window == (
        int(datetime(2026, 11, 18, tzinfo=UTC).timestamp()),
        int(datetime(2026, 11, 20, tzinfo=UTC).timestamp()) - 1,
    )


def test_nothing_stored_is_wanted_again_and_simulated_days_come_last() -> None:
    stored = {("LIRF", direction, d(day)): "opensky" for direction in ("arrival", "departure") for day in range(13, 20)}
    assert wanted(["LIRF"], stored, d(19), 7) == []
    stored[("LIRF", "arrival", d(19))] = "mock"
    stored[("LIRF", "departure", d(15))] = "mock"
    del stored[("LIRF", "departure", d(17))]
    calls = wanted(["LIRF"], stored, d(19), 7)
    assert [(f.direction, f.first_day, f.priority) for f in calls] == [
        ("arrival", d(19), LATEST_SIMULATED),
        ("departure", d(17), BACKFILL),
        ("departure", d(15), SIMULATED),
    ]


def test_back_fill_goes_round_the_airports() -> None:
    calls = wanted(["EGLL", "LIRF"], {}, d(19), 5)
    order = [(f.priority, f.airport, f.direction, f.first_day) for f in calls]
    assert order[:4] == [(LATEST, a, x, d(18)) for a in ("EGLL", "LIRF") for x in ("arrival", "departure")]
    assert [o[1] for o in order[4:8]] == ["EGLL", "EGLL", "LIRF", "LIRF"] and order[4][3] == d(16)
    assert [f.priority for f in latest_only(["EGLL"], {}, d(19), 5)] == [LATEST, LATEST]


def test_the_budget_decides_what_is_planned_today() -> None:
    calls = wanted(["EGLL", "LIRF", "LIML"], {}, d(19), 3)
    fitting, deferred = fit(calls, 200, NOON)
    assert len(fitting) == 6 and all(f.priority == LATEST for f in fitting)  # 6 x 30
    assert len(deferred) == 6


def test_the_day_is_spread_and_yesterday_waits_for_the_batch() -> None:
    early = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    plan = make_plan(early, ["LIRF"], {}, available=3600, batch_delay=SIX, history_days=5, last_call_at=None)
    assert len(plan.scheduled) == 6 and plan.deferred == []
    assert plan.spacing == 23 * 3600 / 6  # until an hour before midnight
    # the back-fill may go first; the calls for yesterday wait until 06:00
    first, _ = plan.scheduled[0]
    assert first.priority == BACKFILL
    for fetch, at in plan.scheduled:
        if fetch.priority == LATEST:
            assert at >= early + SIX
    assert [f.priority for f in plan.due(None)] == [BACKFILL]  # the first call of the day at once
    later = make_plan(
        early + timedelta(hours=7), ["LIRF"], {}, available=3600, batch_delay=SIX, history_days=5,
        last_call_at=early + timedelta(hours=1),
    )  # fmt: skip
    due = later.due(early + timedelta(hours=1))
    assert due and due[0].priority == LATEST  # after the batch, yesterday comes first
    assert len(due) == int(6 * 3600 // later.spacing)


def test_past_the_spreading_window_everything_left_is_due() -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    plan = make_plan(late, ["LIRF", "EGLL"], {}, available=3600, batch_delay=SIX, history_days=1, last_call_at=late)
    assert plan.spacing == 0 and len(plan.due(late)) == 4


def test_nothing_is_planned_past_the_budget() -> None:
    plan = make_plan(NOON, ["LIRF", "EGLL"], {}, available=59, batch_delay=SIX, history_days=2, last_call_at=None)
    assert [f.cost(NOON) for f, _ in plan.scheduled] == [30] and len(plan.deferred) == 3
    assert plan.credits == 30 and plan.next_for("EGLL") is not None and plan.next_for("LIRF") is None
    assert isinstance(plan.scheduled[0][0], Fetch)
