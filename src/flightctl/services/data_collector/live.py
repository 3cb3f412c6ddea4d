"""Live traffic around the airports with live interests: one /states/all call per group of
nearby airports every LIVE_INTERVAL_SECONDS (stretched when the /states/* credits would not
last the day), a count of the aircraft near each airport (on the ground, and airborne below
LIVE_MAX_ALTITUDE_M, within LIVE_RADIUS_KM), and one to-alert-system message per live interest
with a threshold.

The box around an airport is sized to cost one credit (at most 25 square degrees); airports
whose boxes overlap share one call when their joint box still costs one credit. One replica
makes each round: the round is claimed atomically in collector_schedule.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import transaction
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, Outgoing
from flightctl.services.data_collector import service
from flightctl.services.data_collector.credits import STATES, Budget, box_area, next_midnight, states_cost
from flightctl.services.data_collector.ledger import Ledger
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.mock import distance_km, mock_states
from flightctl.services.data_collector.models import LiveTraffic, Schedule
from flightctl.services.data_collector.opensky import OpenSkyClient, OpenSkyError, RateLimited

log = logging.getLogger(__name__)
ONE_CREDIT_BOX = 25.0
"""Square degrees: the largest box /states/all charges one credit for."""
KM_PER_DEGREE = 111.32
SCHEDULE = "live"
Box = tuple[float, float, float, float]


def box_around(lat: float, lon: float, radius_km: float) -> Box:
    """(lamin, lomin, lamax, lomax) holding the circle of ``radius_km`` around the point, kept to
    one credit (far north or south, the box is narrower east-west than the circle) and inside
    the map (near the antimeridian it is cut there)."""
    dlat = radius_km / KM_PER_DEGREE
    dlon = min(180.0, radius_km / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6)))
    dlon = min(dlon, ONE_CREDIT_BOX / (4 * dlat))
    return (max(-90.0, lat - dlat), max(-180.0, lon - dlon), min(90.0, lat + dlat), min(180.0, lon + dlon))


def overlaps(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


@dataclass
class Group:
    """Airports answered by one /states/all call."""

    box: Box
    airports: list[str] = field(default_factory=list)

    @property
    def cost(self) -> int:
        return states_cost(self.box)


def group_airports(coordinates: Mapping[str, tuple[float, float]], radius_km: float) -> list[Group]:
    """One group per airport, merged while two groups' boxes overlap and their joint box still
    costs one credit."""
    groups = [Group(box_around(lat, lon, radius_km), [code]) for code, (lat, lon) in sorted(coordinates.items())]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                joint = union(groups[i].box, groups[j].box)
                if overlaps(groups[i].box, groups[j].box) and box_area(joint) <= ONE_CREDIT_BOX:
                    groups[i] = Group(joint, sorted(groups[i].airports + groups[j].airports))
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


@dataclass(frozen=True)
class Count:
    on_ground: int
    airborne: int

    @property
    def aircraft(self) -> int:
        return self.on_ground + self.airborne


def count_near(
    states: Sequence[Sequence[Any]], lat: float, lon: float, radius_km: float, max_altitude_m: float
) -> Count:
    """Aircraft within ``radius_km`` of the point: on the ground, and airborne below
    ``max_altitude_m`` (barometric altitude, else geometric; an airborne aircraft with neither
    is left out). Fields by OpenSky's order: 5 longitude, 6 latitude, 7 baro_altitude,
    8 on_ground, 13 geo_altitude."""
    on_ground = airborne = 0
    for state in states:
        try:
            longitude, latitude, grounded = state[5], state[6], bool(state[8])
        except IndexError:
            continue
        if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
            continue
        if distance_km(lat, lon, float(latitude), float(longitude)) > radius_km:
            continue
        if grounded:
            on_ground += 1
            continue
        altitude = state[7] if state[7] is not None else (state[13] if len(state) > 13 else None)
        if isinstance(altitude, int | float) and altitude <= max_altitude_m:
            airborne += 1
    return Count(on_ground, airborne)


def round_interval(interval: float, budget: Budget, cost: int, now: datetime) -> float | None:
    """``interval``, or longer so that the rounds left today fit the credits available; None
    when not even one round fits before midnight."""
    if cost <= 0:
        return interval
    available = budget.available(now)
    if available < cost:
        return None
    left = max(1.0, (next_midnight(now) - now).total_seconds())
    if left / interval * cost <= available:
        return interval
    return left * cost / available


@dataclass
class AirportLive:
    airport: str
    source: str  # opensky | mock | unavailable
    aircraft: int | None = None
    on_ground: int | None = None
    airborne: int | None = None
    observed_at: str | None = None
    messages: int = 0
    error: str | None = None


@dataclass
class LiveRound:
    started_at: str
    interval_seconds: float | None
    groups: int
    credits: int
    airports: list[AirportLive]
    skipped: str | None = None

    @property
    def messages(self) -> int:
        return sum(a.messages for a in self.airports)


@dataclass
class LiveTrafficWatch:
    factory: sessionmaker[Session]
    client: OpenSkyClient
    publish: Callable[[Sequence[Outgoing]], int]
    ledger: Ledger
    metrics: CollectorMetrics
    now: Callable[[], datetime]
    coordinates: Mapping[str, tuple[float, float]]
    interval: float = 60.0
    radius_km: float = 30.0
    max_altitude_m: float = 3000.0
    mock_fallback: bool = False

    def groups(self, airports: Sequence[str]) -> list[Group]:
        known = {a: self.coordinates[a] for a in airports if a in self.coordinates}
        return group_airports(known, self.radius_km)

    def effective_interval(self, budget: Budget, cost: int, now: datetime) -> float | None:
        return round_interval(self.interval, budget, cost, now)

    def projection(self, now: datetime) -> dict[str, Any]:
        """How the /states/* credits go today: per round, the interval, the rest of the day."""
        with transaction(self.factory) as session:
            airports = service.live_airports(session)
        groups = self.groups(airports)
        cost = sum(g.cost for g in groups)
        budget = self.ledger.budget(STATES, now)
        interval = self.effective_interval(budget, cost, now)
        left = (next_midnight(now) - now).total_seconds()
        rounds = 0 if not cost or interval is None else int(left // interval)
        planned = rounds * cost
        return {
            **budget.as_dict(now),
            "groups": len(groups),
            "credits_per_round": cost,
            "interval_seconds": interval if cost else None,
            "planned_today": planned,
            "projected_remaining": budget.remaining - planned,
        }

    # -- a round ----------------------------------------------------------------------------
    def step(self) -> LiveRound | None:
        """The scheduled round, when it is due and this replica claims it."""
        return self.round(force=False)

    def round(self, *, force: bool) -> LiveRound | None:
        """One round now (``force``: whatever the schedule says, as ``POST /collect`` does)."""
        now = self.now().replace(microsecond=0)
        with transaction(self.factory) as session:
            airports = service.live_airports(session)
        groups = self.groups(airports)
        cost = sum(g.cost for g in groups)
        budget = self.ledger.budget(STATES, now)
        interval = self.effective_interval(budget, cost, now)
        self.metrics.live_interval.set(interval or 0)
        self.metrics.credits_remaining.labels(STATES).set(budget.remaining)
        if not groups:
            return None
        wait = interval if interval is not None else (next_midnight(now) - now).total_seconds()
        if not self._claim(now, now + timedelta(seconds=wait), force):
            return None
        result = LiveRound(now.isoformat(), interval, len(groups), 0, [])
        if interval is None:
            result.skipped = "the /states/* credits are spent until 00:00 UTC"
            log.warning("live traffic: %s", result.skipped)
            self.metrics.live_rounds.labels("skipped").inc()
            return result
        started = time.perf_counter()
        for group in groups:
            if self.ledger.budget(STATES, now).available(now) < group.cost:  # OpenSky may have said less is left
                why = "the /states/* credits are spent until 00:00 UTC"
                result.airports.extend(AirportLive(a, "unavailable", error=why) for a in group.airports)
                continue
            result.airports.extend(self._group(group, now, result))
        self.metrics.live_round_duration.observe(time.perf_counter() - started)
        served = [a for a in result.airports if a.source != "unavailable"]
        outcome = "failed" if not served else "mock" if all(a.source == "mock" for a in served) else "ok"
        self.metrics.live_rounds.labels(outcome).inc()
        if served:
            self.metrics.live_last_success.set(time.time())
        return result

    def _claim(self, now: datetime, next_at: datetime, force: bool) -> bool:
        """Take this round (atomically, across replicas) and set when the next one is due."""
        with transaction(self.factory) as session:
            session.execute(
                insert(Schedule).values(name=SCHEDULE, next_at=now - timedelta(seconds=1)).on_conflict_do_nothing()
            )
            claim = update(Schedule).where(Schedule.name == SCHEDULE).values(next_at=next_at)
            if not force:
                claim = claim.where(Schedule.next_at <= now)
            return session.execute(claim.returning(Schedule.name)).first() is not None

    def _group(self, group: Group, now: datetime, result: LiveRound) -> list[AirportLive]:
        source, error = "opensky", None
        states: list[list[Any]] = []
        observed = now
        try:
            answer = self.client.states(group.box)
            self.ledger.spend(STATES, now, group.cost, answer.remaining)
            result.credits += group.cost
            states = answer.body["states"]
            if answer.body.get("time"):
                observed = datetime.fromtimestamp(answer.body["time"], now.tzinfo)
        except OpenSkyError as exc:
            if isinstance(exc, RateLimited) and exc.answered:  # a call not made tells nothing new
                self.ledger.block(STATES, now, exc.seconds)
            error = str(exc)
            if not self.mock_fallback:
                log.warning("live traffic for %s unavailable: %s", ", ".join(group.airports), exc)
                return [AirportLive(a, "unavailable", error=error) for a in group.airports]
            log.warning("OpenSky failed for %s (%s); counting simulated aircraft", ", ".join(group.airports), exc)
            simulated = mock_states(*group.box, int(now.timestamp()))
            states, source = simulated["states"], "mock"
            observed = datetime.fromtimestamp(simulated["time"], now.tzinfo)
        counts = {
            a: count_near(states, *self.coordinates[a], self.radius_km, self.max_altitude_m) for a in group.airports
        }
        with transaction(self.factory) as session:
            for airport, count in counts.items():
                values = {
                    "observed_at": observed,
                    "source": source,
                    "aircraft": count.aircraft,
                    "on_ground": count.on_ground,
                    "airborne": count.airborne,
                }
                session.execute(
                    insert(LiveTraffic)
                    .values(airport_code=airport, **values)
                    .on_conflict_do_update(index_elements=["airport_code"], set_=values)
                )
            interests = service.interests_with_thresholds(session, group.airports, live=True)
        for airport, count in counts.items():
            self.metrics.live_aircraft.labels(airport).set(count.aircraft)
        messages = [
            Outgoing(
                topic=TO_ALERT_SYSTEM,
                key=i.airport_code,
                value={
                    "event_id": str(uuid.uuid4()),
                    "user_email": i.user_email,
                    "airport_code": i.airport_code,
                    "flight_count": counts[i.airport_code].aircraft,
                    "high_value": i.high_value,
                    "low_value": i.low_value,
                    "window_start": observed.isoformat(),
                    "window_end": observed.isoformat(),
                    "source": source,
                    "live": True,
                    "on_ground": counts[i.airport_code].on_ground,
                    "airborne": counts[i.airport_code].airborne,
                },
            )
            for i in interests
        ]
        published = self.publish(messages)
        self.metrics.messages_published.inc(published)
        per_airport = {a: sum(1 for m in messages if m.key == a) for a in group.airports}
        log.info(
            "live traffic %s from %s: %s",
            ", ".join(group.airports),
            source,
            ", ".join(f"{a} {c.aircraft}" for a, c in counts.items()),
        )
        return [
            AirportLive(
                airport=a,
                source=source,
                aircraft=c.aircraft,
                on_ground=c.on_ground,
                airborne=c.airborne,
                observed_at=observed.isoformat(),
                messages=per_airport[a],
                error=error,
            )
            for a, c in counts.items()
        ]

    def next_round_at(self) -> datetime | None:
        with transaction(self.factory) as session:
            return session.scalar(select(Schedule.next_at).where(Schedule.name == SCHEDULE))
