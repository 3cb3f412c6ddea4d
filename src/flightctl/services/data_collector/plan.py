"""The collector's plan for the arrivals and departures of past days: which OpenSky calls are
still wanted, which of them today's credits pay for, and when each is due. Pure: no database,
no HTTP, no clock of its own.

OpenSky computes the flight lists in a nightly batch, so the collector asks only for whole past
UTC days, each at most once (what was stored is never asked again; a day served by the
simulated fallback is asked again later). Per watched airport and direction it wants the
latest complete day and the ``history_days - 1`` days before it. In order:

0. the latest complete day (with the day before it in the same call, when both are missing:
   a two-day call costs what a one-day call does);
1. the latest complete day where only simulated data is stored;
2. back-fill: older missing days, two a call, newest first, one airport after another;
3. older days where only simulated data is stored.

Today's credits go to the calls in that order; what does not fit waits for tomorrow's. The calls
that fit are spread evenly over the rest of the UTC day (the budget refills at midnight), ending
:data:`SPREAD_MARGIN` before it; the calls for yesterday wait until the nightly batch is done
(``batch_delay`` after midnight).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flightctl.services.data_collector.credits import day_start, flights_cost, next_midnight, utc_day

ARRIVAL, DEPARTURE = "arrival", "departure"
DIRECTIONS = (ARRIVAL, DEPARTURE)
OPENSKY, MOCK = "opensky", "mock"
LATEST, LATEST_SIMULATED, BACKFILL, SIMULATED = 0, 1, 2, 3
PRIORITY_NAMES = {LATEST: "latest day", LATEST_SIMULATED: "latest day again", BACKFILL: "back-fill", SIMULATED: "again"}
SPREAD_MARGIN = timedelta(hours=1)

Stored = Mapping[tuple[str, str, date], str]
"""(airport, direction, day) -> the source of what is stored (opensky or mock)."""


@dataclass(frozen=True)
class Fetch:
    """One OpenSky call: an airport's arrivals or departures over one or two whole UTC days."""

    airport: str
    direction: str
    first_day: date
    last_day: date
    priority: int

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    def window(self) -> tuple[int, int]:
        """[begin, end] in Unix seconds, both inclusive, as OpenSky takes them."""
        begin = day_start(self.first_day)
        return int(begin.timestamp()), int((day_start(self.last_day) + timedelta(days=1)).timestamp()) - 1

    def cost(self, now: datetime) -> int:
        begin, end = self.window()
        return flights_cost(begin, end, now.timestamp())

    def as_dict(self) -> dict[str, str]:
        return {
            "direction": self.direction,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "why": PRIORITY_NAMES[self.priority],
        }


def ready_at(now: datetime, batch_delay: timedelta) -> datetime:
    """When yesterday counts as complete: today, ``batch_delay`` after midnight UTC."""
    return day_start(utc_day(now)) + batch_delay


def latest_complete_day(now: datetime, batch_delay: timedelta) -> date:
    """Yesterday once the nightly batch is done, the day before until then."""
    return utc_day(now - batch_delay) - timedelta(days=1)


def history(latest: date, days: int) -> list[date]:
    """The days wanted, newest first."""
    return [latest - timedelta(days=i) for i in range(days)]


def wanted(airports: Iterable[str], stored: Stored, latest: date, days: int) -> list[Fetch]:
    """Every call still wanted for the days up to ``latest``, most wanted first."""
    oldest = latest - timedelta(days=days - 1)
    ranked: list[tuple[int, int, str, str, Fetch]] = []
    for airport in airports:
        for direction in DIRECTIONS:

            def source(day: date, airport: str = airport, direction: str = direction) -> str | None:
                return stored.get((airport, direction, day))

            items: list[Fetch] = []
            covered: set[date] = set()
            if source(latest) != OPENSKY:
                priority = LATEST if source(latest) is None else LATEST_SIMULATED
                first = latest
                previous = latest - timedelta(days=1)
                if priority == LATEST and previous >= oldest and source(previous) is None:
                    first = previous
                items.append(Fetch(airport, direction, first, latest, priority))
                covered.update(items[0].days)
            day = latest - timedelta(days=1)
            while day >= oldest:
                before = day - timedelta(days=1)
                if day in covered:
                    pass
                elif source(day) is None:
                    if before >= oldest and before not in covered and source(before) is None:
                        items.append(Fetch(airport, direction, before, day, BACKFILL))
                        day = before
                    else:
                        items.append(Fetch(airport, direction, day, day, BACKFILL))
                elif source(day) == MOCK:
                    items.append(Fetch(airport, direction, day, day, SIMULATED))
                day -= timedelta(days=1)
            ranked.extend((f.priority, rank, airport, direction, f) for rank, f in enumerate(items))
    ranked.sort(key=lambda r: r[:4])
    return [r[4] for r in ranked]


def fit(fetches: Sequence[Fetch], available: int, now: datetime) -> tuple[list[Fetch], list[Fetch]]:
    """(the calls today's ``available`` credits pay for, in order; the rest)."""
    fitting: list[Fetch] = []
    deferred: list[Fetch] = []
    left = available
    for fetch in fetches:
        cost = fetch.cost(now)
        if cost <= left:
            fitting.append(fetch)
            left -= cost
        else:
            deferred.append(fetch)
    return fitting, deferred


@dataclass(frozen=True)
class Plan:
    """Today's plan as of ``now``: the calls the budget pays for, each with its planned time,
    in the order they will be made, and what waits for tomorrow's credits."""

    now: datetime
    latest_day: date
    ready_at: datetime
    spacing: float
    scheduled: list[tuple[Fetch, datetime]]
    deferred: list[Fetch]

    @property
    def credits(self) -> int:
        return sum(f.cost(self.now) for f, _ in self.scheduled)

    def due(self, last_call_at: datetime | None) -> list[Fetch]:
        """The calls to make at ``now``: as many as the spacing allows since the last call,
        the first of the day at once, everything once the spreading window has closed."""
        ready = [f for f, _ in self.scheduled if f.priority > LATEST_SIMULATED or self.now >= self.ready_at]
        if not ready:
            return []
        if self.spacing <= 0 or last_call_at is None or utc_day(last_call_at) != utc_day(self.now):
            count = len(ready) if self.spacing <= 0 else 1
        else:
            count = math.floor((self.now - last_call_at).total_seconds() / self.spacing)
        return ready[: max(0, count)]

    def next_for(self, airport: str) -> tuple[Fetch, datetime] | None:
        for fetch, at in self.scheduled:
            if fetch.airport == airport:
                return fetch, at
        return None


def make_plan(
    now: datetime,
    airports: Iterable[str],
    stored: Stored,
    *,
    available: int,
    batch_delay: timedelta,
    history_days: int,
    last_call_at: datetime | None,
) -> Plan:
    """Today's plan: the days up to yesterday (what today's credits are for), fitted to
    ``available``, spread from now to the end of the spreading window."""
    yesterday = utc_day(now) - timedelta(days=1)
    fitting, deferred = fit(wanted(airports, stored, yesterday, history_days), available, now)
    ready = ready_at(now, batch_delay)
    # Calls for yesterday wait for the batch; the others may go first.
    order = [f for f in fitting if f.priority > LATEST_SIMULATED or now >= ready] + [
        f for f in fitting if f.priority <= LATEST_SIMULATED and now < ready
    ]
    end = next_midnight(now) - SPREAD_MARGIN
    spacing = (end - now).total_seconds() / len(order) if order and end > now else 0.0
    last = last_call_at if last_call_at is not None and utc_day(last_call_at) == utc_day(now) else None
    scheduled = []
    for k, fetch in enumerate(order):
        # the first call of the day at once, then one every `spacing` seconds after the last
        at = now + timedelta(seconds=spacing * k) if last is None else last + timedelta(seconds=spacing * (k + 1))
        at = max(at, now, ready) if fetch.priority <= LATEST_SIMULATED else max(at, now)
        scheduled.append((fetch, at))
    return Plan(
        now=now,
        latest_day=latest_complete_day(now, batch_delay),
        ready_at=ready,
        spacing=spacing,
        scheduled=scheduled,
        deferred=deferred,
    )


def latest_only(airports: Iterable[str], stored: Stored, latest: date, history_days: int) -> list[Fetch]:
    """The calls that bring every airport's latest complete day (``POST /collect``)."""
    return [f for f in wanted(airports, stored, latest, history_days) if f.priority <= LATEST_SIMULATED]
