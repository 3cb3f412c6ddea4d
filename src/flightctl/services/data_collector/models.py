"""data-collector's tables (its own database, data_collector)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from flightctl.services.common.db import Base


class Interest(Base):
    __tablename__ = "user_interests"
    __table_args__ = (
        UniqueConstraint("user_email", "airport_code", name="uq_interest_user_airport"),
        Index("ix_interest_airport", "airport_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_email: Mapped[str] = mapped_column(String(254))
    airport_code: Mapped[str] = mapped_column(String(4))
    high_value: Mapped[int | None] = mapped_column(Integer)
    low_value: Mapped[int | None] = mapped_column(Integer)
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
