"""alert-notifier's tables (its own database, alert_notifier)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flightctl.services.common.db import Base


class Delivery(Base):
    """One notification event and what became of it; ``event_id`` makes a redelivery a no-op."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_user_email_created_at", "user_email", "created_at"),
        CheckConstraint("kind IN ('alert', 'sla')", name="ck_deliveries_kind"),
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped')", name="ck_deliveries_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    user_email: Mapped[str] = mapped_column(String(254))
    chat_id: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TelegramUpdateOffset(Base):
    """One row: the offset of the next Telegram update to fetch (every earlier one was handled)."""

    __tablename__ = "telegram_update_offset"
    __table_args__ = (CheckConstraint("id = 1", name="ck_telegram_update_offset_single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
