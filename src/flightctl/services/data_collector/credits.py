"""What OpenSky charges for a call, and what the collector may still spend today.

Source: OpenSky's REST API documentation (openskynetwork.github.io/opensky-api/rest.html,
"API credit usage", 2026). In our words: each family of endpoints (``/states/*``, ``/tracks/*``,
``/flights/*``) draws on its own daily bucket of credits (anonymous callers 400 a day, a
standard account 4,000, an active feeder 8,000). A ``/flights/*`` call costs by its window: a
live window (shorter than a day, within the last 24 hours) 4 credits; otherwise by the UTC day
partitions it touches, 30 for one or two, 60 a partition for three to ten (the flight lists
answer at most two days per call, so the collector never goes past two). A ``/states/all``
call costs by the area of its bounding box: 1 credit up to 25 square degrees, 2 up to 100, 3 up
to 400, 4 beyond or without a box. Every answer says what is left in
``X-Rate-Limit-Remaining``; past the budget OpenSky answers 429 with
``X-Rate-Limit-Retry-After-Seconds``. We take the buckets to refill at 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

DAY_SECONDS = 86400
FLIGHTS, STATES = "flights", "states"
FAMILIES = (FLIGHTS, STATES)

LIVE_FLIGHTS_COST = 4
"""A /flights/* window shorter than a day that lies within the last 24 hours."""
FLIGHTS_COST_BY_PARTITIONS: tuple[tuple[int, int, bool], ...] = (
    # (up to this many UTC day partitions, credits, per partition?)
    (2, 30, False),
    (10, 60, True),
    (25, 480, True),
)
FLIGHTS_COST_BEYOND = 960
"""Credits per partition past 25 partitions."""
STATES_COST_BY_AREA: tuple[tuple[float, int], ...] = (
    # (up to this many square degrees, credits)
    (25.0, 1),
    (100.0, 2),
    (400.0, 3),
)
STATES_COST_BEYOND = 4
"""A box larger than 400 square degrees, or no box (the whole world)."""


def day_partitions(begin: int, end: int) -> int:
    """How many UTC days the window [begin, end] (Unix seconds, end inclusive) touches."""
    return end // DAY_SECONDS - begin // DAY_SECONDS + 1


def flights_cost(begin: int, end: int, now: float) -> int:
    """Credits one /flights/arrival or /flights/departure call over [begin, end] costs at ``now``."""
    if end - begin < DAY_SECONDS and begin >= now - DAY_SECONDS:
        return LIVE_FLIGHTS_COST
    partitions = day_partitions(begin, end)
    for most, credits, per_partition in FLIGHTS_COST_BY_PARTITIONS:
        if partitions <= most:
            return credits * partitions if per_partition else credits
    return FLIGHTS_COST_BEYOND * partitions


def box_area(box: tuple[float, float, float, float]) -> float:
    """Square degrees of (lamin, lomin, lamax, lomax)."""
    lamin, lomin, lamax, lomax = box
    return max(0.0, lamax - lamin) * max(0.0, lomax - lomin)


def states_cost(box: tuple[float, float, float, float] | None) -> int:
    """Credits one /states/all call with this bounding box costs (None: no box)."""
    if box is None:
        return STATES_COST_BEYOND
    area = box_area(box)
    for most, credits in STATES_COST_BY_AREA:
        if area <= most:
            return credits
    return STATES_COST_BEYOND


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def next_midnight(moment: datetime) -> datetime:
    return day_start(utc_day(moment) + timedelta(days=1))


@dataclass(frozen=True)
class Budget:
    """One family's credits today as the collector sees them: what the account has a day, what
    it keeps back, what its own calls cost by the table above, and what OpenSky last said was
    left (``reported``, when ``used_at_report`` had been spent: calls since then count too)."""

    family: str
    day: date
    per_day: int
    reserve: int
    used: int = 0
    reported: int | None = None
    used_at_report: int = 0
    reported_at: datetime | None = None
    blocked_until: datetime | None = None

    @property
    def remaining(self) -> int:
        """Credits left today: our own count, or OpenSky's word when that is lower."""
        own = self.per_day - self.used
        if self.reported is None:
            return max(0, own)
        return max(0, min(own, self.reported - (self.used - self.used_at_report)))

    def available(self, now: datetime) -> int:
        """What may still be planned today: the remaining credits less the reserve (none while
        OpenSky has told us to wait)."""
        if self.blocked_until is not None and now < self.blocked_until:
            return 0
        return max(0, self.remaining - self.reserve)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "per_day": self.per_day,
            "reserve": self.reserve,
            "used_today": self.used,
            "remaining": self.remaining,
            "available": self.available(now),
            "reported_remaining": self.reported,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
            "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None,
        }


def reserve_of(per_day: int, percent: float) -> int:
    """Credits kept back: ``percent`` of the day's, rounded up."""
    return -(-int(per_day * percent) // 100) if percent > 0 else 0
