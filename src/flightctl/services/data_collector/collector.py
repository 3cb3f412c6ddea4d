"""The collector of past days: it plans its OpenSky calls from the credit budget (plan.py,
credits.py), makes the calls that are due, stores each day's flights once, and publishes one
to-alert-system message per daily interest with a threshold when the airport's latest complete
day is stored (and on every ``POST /collect``).

Two entry points, each under one PostgreSQL advisory lock (one at a time across every
data-collector process):

- :meth:`Collector.tick`, every COLLECT_INTERVAL_SECONDS: the calls the plan has due now
  (spread over the day), then the readings not yet published, then the retention purge;
- :meth:`Collector.run_cycle`, ``POST /collect``: a cycle now, within the budget: every watched
  airport's latest complete day is fetched if it is not stored yet (no pacing; never past the
  budget less its reserve), a live-traffic round for the live interests, and the current
  reading of every interest with a threshold is published.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import transaction
from flightctl.services.common.errors import Conflict
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, Outgoing
from flightctl.services.common.locks import AdvisoryLock
from flightctl.services.data_collector import service
from flightctl.services.data_collector.credits import FLIGHTS, day_start, next_midnight, utc_day
from flightctl.services.data_collector.ledger import Ledger
from flightctl.services.data_collector.live import LiveRound, LiveTrafficWatch
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.mock import mock_flights
from flightctl.services.data_collector.opensky import OpenSkyClient, OpenSkyError, RateLimited
from flightctl.services.data_collector.plan import (
    DIRECTIONS,
    MOCK,
    OPENSKY,
    Fetch,
    Plan,
    fit,
    history,
    latest_complete_day,
    latest_only,
    make_plan,
)

log = logging.getLogger(__name__)
UNAVAILABLE = "unavailable"
"""The source of an airport with no complete day stored (OpenSky failed, no fallback served it)."""


@dataclass
class FetchResult:
    fetch: Fetch
    source: str  # opensky | mock | unavailable
    stored: int = 0
    new: int = 0
    credits: int = 0
    error: str | None = None


@dataclass
class AirportResult:
    airport: str
    source: str  # opensky | mock | unavailable: where the reading's day came from
    day: str | None = None
    flights_stored: int = 0
    flights_new: int = 0
    flight_count: int | None = None
    fetches: int = 0
    credits: int = 0
    messages: int = 0
    error: str | None = None
    live_count: int | None = None
    live_source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CycleSummary:
    started_at: str
    window_start: str
    window_end: str
    airports: list[dict[str, Any]] = field(default_factory=list)
    flights_stored: int = 0
    messages_published: int = 0
    credits_used: int = 0
    deferred: list[dict[str, Any]] = field(default_factory=list)
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TickSummary:
    at: str
    fetched: list[FetchResult] = field(default_factory=list)
    messages: int = 0
    planned: int = 0
    deferred: int = 0


@dataclass
class Reading:
    """The count of an airport's newest complete stored day."""

    airport: str
    day: date
    count: int
    source: str


PENDING, FETCHING, DONE, FAILED = "pending", "fetching", "done", "failed"
"""The states of an airport in the cycle under way: its calls not started, some made, all
made (its flights stored, from OpenSky or simulated), or one left it without its day."""


@dataclass
class _AirportProgress:
    airport: str
    calls: int
    started: int = 0
    finished: int = 0
    sources: set[str] = field(default_factory=set)
    flights_stored: int = 0
    error: str | None = None
    failed: bool = False

    @property
    def state(self) -> str:
        if self.failed:
            return FAILED
        if self.finished >= self.calls:
            return DONE
        return FETCHING if self.started else PENDING

    @property
    def source(self) -> str | None:
        if self.failed or UNAVAILABLE in self.sources:
            return UNAVAILABLE
        if self.state != DONE:
            return None
        return MOCK if MOCK in self.sources else OPENSKY

    def as_dict(self) -> dict[str, Any]:
        return {
            "airport": self.airport,
            "state": self.state,
            "source": self.source,
            "flights_stored": self.flights_stored,
            "error": self.error,
        }


class CycleProgress:
    """What the collection cycle this process runs (``POST /collect``) has done so far, in
    memory, for ``GET /collector/status``: when it started, its phase, and each airport it
    fetches with its state (pending, fetching, done, failed) and, once known, its source and
    the flights stored. When no cycle runs, the last one's outcome stays until the next.

    The cycle's threads write it (the pool's workers, one call each) while request threads read
    it: every change and every :meth:`snapshot` holds one lock, and a snapshot is a copy."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._running = False
        self._phase: str | None = None
        self._started_at: str | None = None
        self._finished_at: str | None = None
        self._began = 0.0
        self._took: float | None = None
        self._outcome: str | None = None
        self._error: str | None = None
        self._airports: dict[str, _AirportProgress] = {}

    def begin(self, started_at: str) -> None:
        """A cycle starts (planning: its airports are not known yet)."""
        with self._lock:
            self._running, self._phase = True, "planning"
            self._started_at, self._finished_at = started_at, None
            self._began, self._took = self._clock(), None
            self._outcome = self._error = None
            self._airports = {}

    def fetching(self, fetches: Sequence[Fetch]) -> None:
        """The calls the cycle will make, all pending."""
        calls: dict[str, int] = {}
        for fetch in fetches:
            calls[fetch.airport] = calls.get(fetch.airport, 0) + 1
        with self._lock:
            self._phase = "fetching"
            self._airports = {a: _AirportProgress(a, n) for a, n in calls.items()}

    def call_started(self, airport: str) -> None:
        with self._lock:
            if airport in self._airports:
                self._airports[airport].started += 1

    def call_finished(self, airport: str, source: str, stored: int, error: str | None) -> None:
        """One call's outcome: its source (``unavailable`` fails the airport) and flights stored."""
        with self._lock:
            mine = self._airports.get(airport)
            if mine is None:
                return
            mine.finished += 1
            mine.sources.add(source)
            mine.flights_stored += stored
            mine.error = mine.error or error
            mine.failed = mine.failed or source == UNAVAILABLE

    def call_failed(self, airport: str, error: str) -> None:
        """A call that raised (its flights not stored): the airport failed."""
        with self._lock:
            mine = self._airports.get(airport)
            if mine is not None:
                mine.finished += 1
                mine.failed = True
                mine.error = mine.error or error

    def counting(self) -> None:
        """The calls are made: the live round, the readings and the messages."""
        with self._lock:
            self._phase = "counting"

    def end(self, finished_at: str, outcome: str, error: str | None = None) -> None:
        """The cycle is over: ``ok`` or ``failed`` (every call failed, or it stopped on ``error``)."""
        with self._lock:
            self._running, self._phase = False, None
            self._finished_at, self._took = finished_at, self._clock() - self._began
            self._outcome, self._error = outcome, error

    def snapshot(self) -> dict[str, Any]:
        """The cycle under way (``running``), else the last one (``outcome``; all null when none ran)."""
        with self._lock:
            airports = [a.as_dict() for a in self._airports.values()]
            elapsed = self._took if not self._running else self._clock() - self._began
            cycle = {
                "running": self._running,
                "phase": self._phase,
                "started_at": self._started_at,
                "finished_at": self._finished_at,
                "elapsed_seconds": None if self._started_at is None else round(elapsed or 0.0, 3),
                "outcome": self._outcome,
                "error": self._error,
            }
        states = [a["state"] for a in airports]
        return {
            **cycle,
            "airports_total": len(airports),
            "airports_done": states.count(DONE),
            "airports_failed": states.count(FAILED),
            "airports": sorted(airports, key=lambda a: str(a["airport"])),
        }


@dataclass
class Collector:
    engine: Engine
    factory: sessionmaker[Session]
    client: OpenSkyClient
    publish: Callable[[Sequence[Outgoing]], int]
    metrics: CollectorMetrics
    now: Callable[[], datetime]
    ledger: Ledger
    batch_delay: timedelta = timedelta(hours=6)
    history_days: int = 7
    retention: timedelta = timedelta(days=30)
    mock_fallback: bool = True
    pool_size: int = 4
    live: LiveTrafficWatch | None = None
    cycle: CycleProgress = field(default_factory=CycleProgress)
    """The progress of the POST /collect cycle this process runs (GET /collector/status)."""

    # -- locking ----------------------------------------------------------------------------
    def _locked(self, work: Callable[[], Any]) -> Any:
        key = int(AdvisoryLock.COLLECTION_CYCLE)
        with self.engine.connect() as lock_connection:
            got = lock_connection.execute(select(func.pg_try_advisory_lock(key))).scalar()
            lock_connection.commit()
            if not got:
                self.metrics.cycles.labels("skipped").inc()
                raise Conflict("a collection cycle is already running")
            try:
                return work()
            except Exception:
                self.metrics.cycles.labels("failed").inc()
                raise
            finally:
                lock_connection.execute(select(func.pg_advisory_unlock(key)))
                lock_connection.commit()

    def _outcome(self, fetched: Sequence[FetchResult]) -> None:
        """A cycle whose every call failed (and that nothing served) collected nothing: it is no
        success, so the staleness the SLA detector watches keeps growing."""
        if fetched and all(r.source == UNAVAILABLE for r in fetched):
            self.metrics.cycles.labels("failed").inc()
        else:
            self.metrics.cycles.labels("ok").inc()
            self.metrics.last_success.set(time.time())

    # -- the plan ---------------------------------------------------------------------------
    def _stored(self, session: Session, now: datetime) -> dict[tuple[str, str, date], str]:
        oldest = utc_day(now) - timedelta(days=self.history_days + 1)
        return service.stored_days(session, oldest)

    def plan(self, now: datetime | None = None) -> Plan:
        """Today's plan as of ``now``."""
        now = now or self.now()
        with transaction(self.factory) as session:
            airports = service.airports_of_interest(session)
            stored = self._stored(session, now)
        budget = self.ledger.budget(FLIGHTS, now)
        plan = make_plan(
            now,
            airports,
            stored,
            available=budget.available(now),
            batch_delay=self.batch_delay,
            history_days=self.history_days,
            last_call_at=self.ledger.last_call_at(FLIGHTS, now),
        )
        self.metrics.credits_remaining.labels(FLIGHTS).set(budget.remaining)
        self.metrics.credits_planned.labels(FLIGHTS).set(plan.credits)
        self.metrics.fetches_planned.set(len(plan.scheduled))
        self.metrics.fetches_deferred.set(len(plan.deferred))
        self.metrics.next_fetch.set(plan.scheduled[0][1].timestamp() if plan.scheduled else 0)
        return plan

    # -- the scheduled tick -----------------------------------------------------------------
    def tick(self) -> TickSummary:
        """The calls due now, the readings not yet published, the purge. Conflict when another
        cycle (in any process) is running."""
        summary: TickSummary = self._locked(self._tick)
        self._outcome(summary.fetched)
        return summary

    def _tick(self) -> TickSummary:
        started = time.perf_counter()
        now = self.now().replace(microsecond=0)
        plan = self.plan(now)
        last = self.ledger.last_call_at(FLIGHTS, now)
        due = plan.due(last)
        summary = TickSummary(at=now.isoformat(), planned=len(plan.scheduled), deferred=len(plan.deferred))
        for fetch in due:
            summary.fetched.append(self._execute(fetch, now))
        if due:
            gap = timedelta(seconds=plan.spacing)
            paced = (
                now if last is None or utc_day(last) != utc_day(now) or gap <= timedelta(0) else last + gap * len(due)
            )
            self.ledger.called(FLIGHTS, now, min(now, max(paced, now - gap)))
        summary.messages = self._publish_readings(now, force=False)
        self._purge(now)
        self.metrics.cycle_duration.observe(time.perf_counter() - started)
        if due or summary.messages:
            log.info(
                "collector: %d call(s) made, %d message(s) published; %d call(s) planned today, %d deferred",
                len(due),
                summary.messages,
                len(plan.scheduled) - len(due),
                len(plan.deferred),
            )
        return summary

    # -- POST /collect ----------------------------------------------------------------------
    def run_cycle(self) -> CycleSummary:
        """A cycle now, within the budget; Conflict when another one (in any process) runs."""
        summary: CycleSummary
        fetched: list[FetchResult]
        summary, fetched = self._locked(self._followed_cycle)
        self._outcome(fetched)
        return summary

    def _followed_cycle(self) -> tuple[CycleSummary, list[FetchResult]]:
        """:meth:`_cycle`, its progress kept in :attr:`cycle` from start to end."""
        now = self.now().replace(microsecond=0)
        self.cycle.begin(now.isoformat())
        try:
            summary, fetched = self._cycle(now)
        except Exception as exc:
            self.cycle.end(self.now().replace(microsecond=0).isoformat(), "failed", f"{type(exc).__name__}: {exc}")
            raise
        failed = bool(fetched) and all(r.source == UNAVAILABLE for r in fetched)
        self.cycle.end(self.now().replace(microsecond=0).isoformat(), "failed" if failed else "ok")
        return summary, fetched

    def _followed_call(self, fetch: Fetch, now: datetime) -> FetchResult:
        self.cycle.call_started(fetch.airport)
        try:
            result = self._execute(fetch, now)
        except Exception as exc:
            self.cycle.call_failed(fetch.airport, f"{type(exc).__name__}: {exc}")
            raise
        self.cycle.call_finished(fetch.airport, result.source, result.stored, result.error)
        return result

    def _cycle(self, now: datetime) -> tuple[CycleSummary, list[FetchResult]]:
        started = time.perf_counter()
        latest = latest_complete_day(now, self.batch_delay)
        start = day_start(latest)
        summary = CycleSummary(
            started_at=now.isoformat(),
            window_start=start.isoformat(),
            window_end=(start + timedelta(days=1)).isoformat(),
        )
        with transaction(self.factory) as session:
            airports = service.airports_of_interest(session)
            stored = self._stored(session, now)
        wanted = latest_only(airports, stored, latest, self.history_days)
        budget = self.ledger.budget(FLIGHTS, now)
        fitting, deferred = fit(wanted, budget.available(now), now)
        self.cycle.fetching(fitting)
        with ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="collect") as pool:
            fetched = list(pool.map(lambda f: self._followed_call(f, now), fitting))
        self.cycle.counting()
        if fitting:
            self.ledger.called(FLIGHTS, now, now)
        self.metrics.credits_remaining.labels(FLIGHTS).set(self.ledger.budget(FLIGHTS, now).remaining)
        live_round = self.live.round(force=True) if self.live is not None else None
        readings = self._readings(now)
        results = {a: AirportResult(airport=a, source=UNAVAILABLE) for a in airports}
        for r in fetched:
            mine = results[r.fetch.airport]
            mine.fetches += 1
            mine.credits += r.credits
            mine.flights_stored += r.stored
            mine.flights_new += r.new
            if r.error and not mine.error:
                mine.error = r.error
        why = "not fetched: today's OpenSky credits (less the reserve) are spent; it waits for tomorrow's"
        for f in deferred:
            results[f.airport].error = results[f.airport].error or why
        summary.deferred = [{"airport": f.airport, **f.as_dict()} for f in deferred]
        for airport, reading in readings.items():
            mine = results[airport]
            mine.day, mine.flight_count, mine.source = reading.day.isoformat(), reading.count, reading.source
            if reading.day != latest and not mine.error:
                mine.error = f"the latest complete day ({latest.isoformat()}) is not stored yet"
        if live_round is not None:
            for live in live_round.airports:
                results[live.airport].live_count = live.aircraft
                results[live.airport].live_source = live.source
                results[live.airport].messages += live.messages
                if live.error and results[live.airport].live_count is None:
                    results[live.airport].error = results[live.airport].error or f"live traffic: {live.error}"
        published = self._publish_readings(now, force=True, readings=readings, results=results)
        self._purge(now)
        for result in results.values():
            summary.airports.append(result.as_dict())
            summary.flights_stored += result.flights_stored
            summary.credits_used += result.credits
        summary.messages_published = published + (live_round.messages if live_round is not None else 0)
        summary.duration_seconds = round(time.perf_counter() - started, 3)
        self.metrics.cycle_duration.observe(summary.duration_seconds)
        log.info(
            "collection cycle done: %d airport(s), %d call(s), %d credit(s), %d flight(s) stored, %d message(s)",
            len(airports),
            len(fetched),
            summary.credits_used,
            summary.flights_stored,
            summary.messages_published,
        )
        return summary, fetched

    # -- one call ---------------------------------------------------------------------------
    def _execute(self, fetch: Fetch, now: datetime) -> FetchResult:
        """Make one planned call and store its flights (simulated ones when OpenSky fails and
        the fallback is on)."""
        begin, end = fetch.window()
        cost = fetch.cost(now)
        result = FetchResult(fetch, OPENSKY)
        flights: list[dict[str, Any]]
        started = time.perf_counter()
        try:
            answer = self.client.flights(fetch.direction, fetch.airport, begin, end)
            flights = answer.body
            self.ledger.spend(FLIGHTS, now, cost, answer.remaining)
            result.credits = cost
        except OpenSkyError as exc:
            if isinstance(exc, RateLimited) and exc.answered:  # a call not made tells nothing new
                self.ledger.block(FLIGHTS, now, exc.seconds)
            result.error = str(exc)
            if not self.mock_fallback:
                log.warning("no %ss of %s for %s (fallback off): %s", fetch.direction, fetch.airport, fetch.days, exc)
                result.source = UNAVAILABLE
                self.metrics.days_fetched.labels("failed").inc()
                self.metrics.airports.labels(UNAVAILABLE).inc()
                return result
            log.warning("OpenSky failed for %s (%s); storing simulated flights", fetch.airport, exc)
            flights, result.source = mock_flights(fetch.airport, fetch.direction, begin, end), MOCK
        finally:
            self.metrics.fetch_duration.labels(fetch.airport).observe(time.perf_counter() - started)
        rows = [r for r in (service.to_row(f, result.source) for f in flights) if r is not None]
        key = "est_arrival_airport" if fetch.direction == "arrival" else "est_departure_airport"
        when = "last_seen" if fetch.direction == "arrival" else "first_seen"
        rows = [r for r in rows if r[key] == fetch.airport and begin <= r[when].timestamp() <= end]
        rows_by_day: dict[date, int] = {}
        for r in rows:
            rows_by_day[utc_day(r[when])] = rows_by_day.get(utc_day(r[when]), 0) + 1
        with transaction(self.factory) as session:
            if result.source == OPENSKY:
                window_end = day_start(fetch.last_day) + timedelta(days=1)
                service.delete_simulated(
                    session, fetch.airport, fetch.direction, day_start(fetch.first_day), window_end
                )
            result.stored, result.new = service.upsert_flights(session, rows)
            service.record_days(
                session, fetch.airport, fetch.direction, fetch.days, rows_by_day, result.source, result.credits, now
            )
        self.metrics.days_fetched.labels(result.source).inc()
        self.metrics.airports.labels(result.source).inc()
        self.metrics.flights_stored.labels(result.source).inc(result.stored)
        log.info(
            "%s %ss of %s stored from %s: %d flight(s) (%d new), %d credit(s)",
            fetch.airport,
            fetch.direction,
            " and ".join(d.isoformat() for d in fetch.days),
            result.source,
            result.stored,
            result.new,
            result.credits,
            extra={"airport": fetch.airport, "source": result.source},
        )
        return result

    # -- readings ---------------------------------------------------------------------------
    def _reading_days(self, session: Session, now: datetime) -> dict[str, tuple[date, dict[str, str]]]:
        """Each airport's newest complete stored day (no later than the latest complete day)
        and the source of each direction."""
        days = history(latest_complete_day(now, self.batch_delay), self.history_days)
        stored = service.stored_days(session, days[-1])
        found: dict[str, tuple[date, dict[str, str]]] = {}
        for airport in service.airports_of_interest(session):
            for day in days:
                sources = {d: stored.get((airport, d, day)) for d in DIRECTIONS}
                if all(sources.values()):
                    found[airport] = (day, {d: s for d, s in sources.items() if s})
                    break
        return found

    def _readings(self, now: datetime, only: set[str] | None = None) -> dict[str, Reading]:
        """The readings of the airports (``only`` these): their newest complete day's count."""
        readings: dict[str, Reading] = {}
        with transaction(self.factory) as session:
            for airport, (day, sources) in self._reading_days(session, now).items():
                if only is None or airport in only:
                    count = service.day_count(session, airport, day, sources)
                    source = MOCK if MOCK in sources.values() else OPENSKY
                    readings[airport] = Reading(airport, day, count, source)
        return readings

    def _publish_readings(
        self,
        now: datetime,
        *,
        force: bool,
        readings: dict[str, Reading] | None = None,
        results: dict[str, AirportResult] | None = None,
    ) -> int:
        """One message per daily interest with a threshold whose airport has a reading: every
        one (``force``), or those not yet told of that day."""
        with transaction(self.factory) as session:
            interests = service.interests_with_thresholds(session, live=False)
            days = {a: day for a, (day, _) in self._reading_days(session, now).items()} if readings is None else {}
        if readings is None:  # count only where an interest has not been told of its airport's day
            due = {i.airport_code for i in interests if days.get(i.airport_code, i.published_day) != i.published_day}
            readings = self._readings(now, due) if due else {}
        chosen = [
            i
            for i in interests
            if i.airport_code in readings and (force or i.published_day != readings[i.airport_code].day)
        ]
        if not chosen:
            return 0
        messages = []
        for interest in chosen:
            reading = readings[interest.airport_code]
            start = day_start(reading.day)
            messages.append(
                Outgoing(
                    topic=TO_ALERT_SYSTEM,
                    key=interest.airport_code,
                    value={
                        "event_id": str(uuid.uuid4()),
                        "user_email": interest.user_email,
                        "airport_code": interest.airport_code,
                        "flight_count": reading.count,
                        "high_value": interest.high_value,
                        "low_value": interest.low_value,
                        "window_start": start.isoformat(),
                        "window_end": (start + timedelta(days=1)).isoformat(),
                        "source": reading.source,
                        "live": False,
                    },
                )
            )
        published = self.publish(messages)
        self.metrics.messages_published.inc(published)
        with transaction(self.factory) as session:
            by_day: dict[date, list[int]] = {}
            for interest in chosen:
                by_day.setdefault(readings[interest.airport_code].day, []).append(interest.id)
            for day, ids in by_day.items():
                service.mark_published(session, ids, day)
        if results is not None:
            for interest in chosen:
                results[interest.airport_code].messages += 1
        return published

    def _purge(self, now: datetime) -> None:
        with transaction(self.factory) as session:
            purged = service.purge_old_flights(session, now - self.retention)
            service.purge_collected_days(session, utc_day(now - self.retention))
        if purged:
            log.info("deleted %d flight(s) older than %s", purged, self.retention)

    # -- status -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Per watched airport: the last fetch, its source and rows, the next planned one, the
        days stored, the live count; the credits of each family: used today, remaining, and
        what the plan will still spend; and the POST /collect cycle under way in this process
        (or the last one): :class:`CycleProgress`."""
        now = self.now().replace(microsecond=0)
        plan = self.plan(now)
        latest = latest_complete_day(now, self.batch_delay)
        days = history(latest, self.history_days)
        budget = self.ledger.budget(FLIGHTS, now)
        readings = self._readings(now)
        with transaction(self.factory) as session:
            counts = service.interest_counts(session)
            stored = service.stored_days(session, days[-1])
            last = service.latest_fetches(session)
            live = service.live_view(session)
        next_live = self.live.next_round_at() if self.live is not None else None
        airports = []
        for airport in sorted(counts):
            complete = [d for d in days if all(stored.get((airport, x, d)) for x in DIRECTIONS)]
            simulated = [d for d in complete if any(stored.get((airport, x, d)) == MOCK for x in DIRECTIONS)]
            fetched = last.get(airport)
            upcoming = plan.next_for(airport)
            reading = readings.get(airport)
            traffic = live.get(airport)
            airports.append(
                {
                    "airport": airport,
                    "interests": counts[airport],
                    "last_fetch": fetched,
                    "reading": None
                    if reading is None
                    else {"day": reading.day.isoformat(), "flight_count": reading.count, "source": reading.source},
                    "days_stored": len(complete),
                    "days_simulated": len(simulated),
                    "days_missing": len(days) - len(complete),
                    "next_fetch": None
                    if upcoming is None
                    else {"at": upcoming[1].isoformat(), **upcoming[0].as_dict()},
                    "live": None
                    if traffic is None and not counts[airport]["live"]
                    else {
                        "observed_at": traffic.observed_at.isoformat() if traffic else None,
                        "source": traffic.source if traffic else None,
                        "aircraft": traffic.aircraft if traffic else None,
                        "on_ground": traffic.on_ground if traffic else None,
                        "airborne": traffic.airborne if traffic else None,
                        "next_round_at": next_live.isoformat() if next_live and counts[airport]["live"] else None,
                    },
                }
            )
        flights = {
            **budget.as_dict(now),
            "planned_calls": len(plan.scheduled),
            "planned_today": plan.credits,
            "projected_remaining": budget.remaining - plan.credits,
            "deferred_calls": len(plan.deferred),
            "next_call_at": plan.scheduled[0][1].isoformat() if plan.scheduled else None,
        }
        states = self.live.projection(now) if self.live is not None else None
        return {
            "time": now.isoformat(),
            "latest_complete_day": latest.isoformat(),
            "history_days": self.history_days,
            "budget_resets_at": next_midnight(now).isoformat(),
            "credits": {"flights": flights, "states": states},
            "airports": airports,
            "cycle": self.cycle.snapshot(),
        }


def step(collector: Collector) -> Callable[[], None]:
    """The scheduled tick for a BackgroundLoop: a tick already running elsewhere is skipped."""

    def run() -> None:
        try:
            collector.tick()
        except Conflict:
            log.info("skipping the scheduled tick: another process is collecting right now")

    return run


__all__ = ["UNAVAILABLE", "Collector", "CycleProgress", "CycleSummary", "LiveRound", "step"]
