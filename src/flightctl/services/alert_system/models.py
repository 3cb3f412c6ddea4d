"""alert-system's tables (its own database, alert_system)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from flightctl.services.common.db import Base


class AlertState(Base):
    """Where each (user, airport, kind) stands: ok, high or low, and when it was last alerted.
    A daily and a live interest in the same airport each have their own state."""

    __tablename__ = "alert_state"

    user_email: Mapped[str] = mapped_column(String(254), primary_key=True)
    airport_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    live: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=false(), default=False)
    """False: the state of the daily readings; true: of the live ones (migration as0002)."""
    state: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[int | None] = mapped_column(Integer)
    last_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProcessedEvent(Base):
    """Input events already applied: a redelivered event_id changes nothing."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
