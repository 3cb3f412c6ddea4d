"""One collection cycle: fetch every airport of interest, store its flights, publish one
message per interest with a threshold. Exactly one cycle runs at a time across every
data-collector process (a PostgreSQL advisory lock)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import transaction
from flightctl.services.common.errors import Conflict
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, Outgoing
from flightctl.services.common.locks import AdvisoryLock
from flightctl.services.data_collector import service
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.mock import mock_flights
from flightctl.services.data_collector.opensky import OpenSkyClient, OpenSkyError

log = logging.getLogger(__name__)
UNAVAILABLE = "unavailable"
"""The source of an airport whose flights could not be fetched (and no fallback served it)."""


@dataclass
class AirportResult:
    airport: str
    source: str  # opensky | mock | unavailable
    flights_stored: int = 0
    flights_new: int = 0
    flight_count: int | None = None
    messages: int = 0
    error: str | None = None


@dataclass
class CycleSummary:
    started_at: str
    window_start: str
    window_end: str
    airports: list[dict[str, Any]] = field(default_factory=list)
    flights_stored: int = 0
    messages_published: int = 0
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "airports": self.airports,
            "flights_stored": self.flights_stored,
            "messages_published": self.messages_published,
            "duration_seconds": self.duration_seconds,
        }


@dataclass
class Collector:
    engine: Engine
    factory: sessionmaker[Session]
    client: OpenSkyClient
    publish: Callable[[Sequence[Outgoing]], int]
    airport_codes: Sequence[str]
    metrics: CollectorMetrics
    now: Callable[[], datetime]
    window: timedelta = timedelta(hours=24)
    retention: timedelta = timedelta(days=30)
    mock_fallback: bool = True
    pool_size: int = 4

    def run_cycle(self) -> CycleSummary:
        """Run one cycle now; Conflict when another cycle (in any process) is running."""
        key = int(AdvisoryLock.COLLECTION_CYCLE)
        with self.engine.connect() as lock_connection:
            got = lock_connection.execute(select(func.pg_try_advisory_lock(key))).scalar()
            lock_connection.commit()
            if not got:
                self.metrics.cycles.labels("skipped").inc()
                raise Conflict("a collection cycle is already running")
            try:
                summary = self._cycle()
            except Exception:
                self.metrics.cycles.labels("failed").inc()
                raise
            finally:
                lock_connection.execute(select(func.pg_advisory_unlock(key)))
                lock_connection.commit()
        # A cycle in which every airport failed collected nothing: it is not a success, so the
        # staleness the SLA detector watches keeps growing (summary and errors are still returned).
        if summary.airports and all(a["source"] == UNAVAILABLE for a in summary.airports):
            self.metrics.cycles.labels("failed").inc()
        else:
            self.metrics.cycles.labels("ok").inc()
            self.metrics.last_success.set(time.time())
        return summary

    def _cycle(self) -> CycleSummary:
        started = time.perf_counter()
        end = self.now().replace(microsecond=0)
        start = end - self.window
        summary = CycleSummary(started_at=end.isoformat(), window_start=start.isoformat(), window_end=end.isoformat())
        with transaction(self.factory) as session:
            airports = service.airports_of_interest(session)
        with ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="collect") as pool:
            results = list(pool.map(lambda a: self._airport(a, start, end), airports))
        for result in results:
            summary.airports.append(result.__dict__.copy())
            summary.flights_stored += result.flights_stored
            summary.messages_published += result.messages
        with transaction(self.factory) as session:
            purged = service.purge_old_flights(session, end - self.retention)
        if purged:
            log.info("deleted %d flight(s) older than %s", purged, self.retention)
        summary.duration_seconds = round(time.perf_counter() - started, 3)
        self.metrics.cycle_duration.observe(summary.duration_seconds)
        log.info(
            "collection cycle done: %d airport(s), %d flight(s) stored, %d message(s) published",
            len(airports),
            summary.flights_stored,
            summary.messages_published,
        )
        return summary

    def _fetch(self, airport: str, begin: int, end: int) -> tuple[list[dict[str, Any]], str]:
        fetch_started = time.perf_counter()
        try:
            flights = self.client.arrivals(airport, begin, end) + self.client.departures(airport, begin, end)
            return flights, "opensky"
        except OpenSkyError as exc:
            if not self.mock_fallback:
                raise
            log.warning("OpenSky failed for %s (%s); serving simulated data", airport, exc)
            return mock_flights(airport, "arrival", begin, end) + mock_flights(airport, "departure", begin, end), "mock"
        finally:
            self.metrics.fetch_duration.labels(airport).observe(time.perf_counter() - fetch_started)

    def _airport(self, airport: str, start: datetime, end: datetime) -> AirportResult:
        result = AirportResult(airport=airport, source=UNAVAILABLE)
        try:
            flights, source = self._fetch(airport, int(start.timestamp()), int(end.timestamp()))
        except OpenSkyError as exc:
            log.warning("no data for %s this cycle (fallback off): %s", airport, exc)
            result.error = str(exc)
            self.metrics.airports.labels(UNAVAILABLE).inc()
            return result
        result.source = source
        self.metrics.airports.labels(source).inc()
        rows = [r for r in (service.to_row(f, source) for f in flights) if r is not None]
        with transaction(self.factory) as session:
            result.flights_stored, result.flights_new = service.upsert_flights(session, rows)
            interests = service.interests_with_thresholds(session, airport)
        self.metrics.flights_stored.labels(source).inc(result.flights_stored)
        result.flight_count = service.count_in_window(rows, airport, start, end)
        log.info(
            "%s served by %s: %d flight(s) stored (%d new), flight_count %d, %d interest(s) with thresholds",
            airport,
            source,
            result.flights_stored,
            result.flights_new,
            result.flight_count,
            len(interests),
            extra={"airport": airport, "source": source},
        )
        messages = [
            Outgoing(
                topic=TO_ALERT_SYSTEM,
                key=airport,
                value={
                    "event_id": str(uuid.uuid4()),
                    "user_email": interest.user_email,
                    "airport_code": airport,
                    "flight_count": result.flight_count,
                    "high_value": interest.high_value,
                    "low_value": interest.low_value,
                    "window_start": start.isoformat(),
                    "window_end": end.isoformat(),
                    "source": source,
                },
            )
            for interest in interests
        ]
        result.messages = self.publish(messages)
        self.metrics.messages_published.inc(result.messages)
        return result
