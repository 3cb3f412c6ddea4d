"""The credits spent per endpoint family and UTC day, kept in the database (credit_usage) so
that every replica and every restart plans from the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import transaction
from flightctl.services.data_collector.credits import Budget, reserve_of, utc_day
from flightctl.services.data_collector.models import CreditUsage


@dataclass
class Ledger:
    factory: sessionmaker[Session]
    per_day: int
    reserve_percent: float
    on_spend: Callable[[str, int], None] = field(default=lambda _family, _cost: None)

    @property
    def reserve(self) -> int:
        return reserve_of(self.per_day, self.reserve_percent)

    def budget(self, family: str, now: datetime) -> Budget:
        with transaction(self.factory) as session:
            return self._budget(session, family, now)

    def _budget(self, session: Session, family: str, now: datetime) -> Budget:
        row = session.get(CreditUsage, (family, utc_day(now)))
        if row is None:
            return Budget(family, utc_day(now), self.per_day, self.reserve)
        return Budget(
            family,
            row.day,
            self.per_day,
            self.reserve,
            used=row.used,
            reported=row.reported_remaining,
            used_at_report=row.used_at_report,
            reported_at=row.reported_at,
            blocked_until=row.blocked_until,
        )

    def last_call_at(self, family: str, now: datetime) -> datetime | None:
        with transaction(self.factory) as session:
            return session.scalar(
                select(CreditUsage.last_call_at).where(CreditUsage.family == family, CreditUsage.day == utc_day(now))
            )

    def _row(self, session: Session, family: str, now: datetime) -> CreditUsage:
        session.execute(
            insert(CreditUsage)
            .values(family=family, day=utc_day(now), used=0, calls=0, used_at_report=0)
            .on_conflict_do_nothing()
        )
        row = session.scalar(
            select(CreditUsage).where(CreditUsage.family == family, CreditUsage.day == utc_day(now)).with_for_update()
        )
        assert row is not None
        return row

    def spend(self, family: str, now: datetime, cost: int, remaining: int | None) -> None:
        """Book one answered call: its cost by the table, and what OpenSky said was left."""
        with transaction(self.factory) as session:
            row = self._row(session, family, now)
            row.used += cost
            row.calls += 1
            if remaining is not None:
                row.reported_remaining, row.used_at_report, row.reported_at = remaining, row.used, now
        self.on_spend(family, cost)

    def block(self, family: str, now: datetime, seconds: float) -> None:
        """OpenSky answered 429: nothing is left today, and no call before ``seconds`` from now."""
        with transaction(self.factory) as session:
            row = self._row(session, family, now)
            row.reported_remaining, row.used_at_report, row.reported_at = 0, row.used, now
            until = now + timedelta(seconds=seconds)
            row.blocked_until = max(row.blocked_until, until) if row.blocked_until else until

    def called(self, family: str, now: datetime, at: datetime) -> None:
        """Remember when the plan last made a call (its pacing goes on from there)."""
        with transaction(self.factory) as session:
            self._row(session, family, now).last_call_at = at
