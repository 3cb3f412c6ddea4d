"""data-collector's tables (its own database, data_collector)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Index, Integer, String, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column

from flightctl.services.common.db import Base


class Interest(Base):
    __tablename__ = "user_interests"
    __table_args__ = (
        # one interest of each kind per user and airport: a daily one and a live one (dc0004)
        UniqueConstraint("user_email", "airport_code", "live", name="uq_interest_user_airport_kind"),
        Index("ix_interest_airport", "airport_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_email: Mapped[str] = mapped_column(String(254))
    airport_code: Mapped[str] = mapped_column(String(4))
    high_value: Mapped[int | None] = mapped_column(Integer)
    low_value: Mapped[int | None] = mapped_column(Integer)
    live: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    """False: thresholds on the flights of a complete day; true: on the aircraft near the airport now."""
    published_day: Mapped[date | None] = mapped_column(Date)
    """The day whose count was last published for this (daily) interest."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Flight(Base):
    """One flight as OpenSky reports it; (icao24, first_seen) identifies it."""

    __tablename__ = "flight_data"
    __table_args__ = (
        UniqueConstraint("icao24", "first_seen", name="uq_flight_icao24_first_seen"),
        # newest-first pages and counts per airport, index-only (migration dc0002)
        Index("ix_flight_arrival_newest", "est_arrival_airport", "last_seen", "id"),
        Index(
            "ix_flight_departure_newest",
            "est_departure_airport",
            "last_seen",
            "id",
            postgresql_include=["est_arrival_airport"],
        ),
        Index("ix_flight_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    icao24: Mapped[str] = mapped_column(String(6))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    est_departure_airport: Mapped[str | None] = mapped_column(String(4))
    est_arrival_airport: Mapped[str | None] = mapped_column(String(4))
    callsign: Mapped[str | None] = mapped_column(String(16))
    est_departure_airport_horiz_distance: Mapped[int | None] = mapped_column(Integer)
    est_departure_airport_vert_distance: Mapped[int | None] = mapped_column(Integer)
    est_arrival_airport_horiz_distance: Mapped[int | None] = mapped_column(Integer)
    est_arrival_airport_vert_distance: Mapped[int | None] = mapped_column(Integer)
    departure_airport_candidates_count: Mapped[int | None] = mapped_column(Integer)
    arrival_airport_candidates_count: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CollectedDay(Base):
    """One airport's arrivals or departures of one UTC day, as stored: where they came from,
    how many, when. A day fetched from OpenSky is never fetched again; a simulated one
    (source mock) is asked of OpenSky again later."""

    __tablename__ = "collected_days"

    airport_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    direction: Mapped[str] = mapped_column(String(9), primary_key=True)  # arrival | departure
    source: Mapped[str] = mapped_column(String(8))
    rows: Mapped[int] = mapped_column(Integer)
    credits: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditUsage(Base):
    """One endpoint family's credits on one UTC day: spent by our own count, and what OpenSky
    last reported left (X-Rate-Limit-Remaining)."""

    __tablename__ = "credit_usage"

    family: Mapped[str] = mapped_column(String(8), primary_key=True)  # flights | states
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    reported_remaining: Mapped[int | None] = mapped_column(Integer)
    used_at_report: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_call_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LiveTraffic(Base):
    """The latest live count of aircraft near an airport."""

    __tablename__ = "live_traffic"

    airport_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(8))
    aircraft: Mapped[int] = mapped_column(Integer)
    on_ground: Mapped[int] = mapped_column(Integer)
    airborne: Mapped[int] = mapped_column(Integer)


class Schedule(Base):
    """When a recurring job is due next, claimed atomically by the replica that runs it."""

    __tablename__ = "collector_schedule"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
