"""Applies one reading: decides with the rule, and records the new state once the resulting
notification has been produced (the runner calls ``commit`` after the broker's ack)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.alert_system import rules
from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.alert_system.models import AlertState, ProcessedEvent
from flightctl.services.common.db import transaction
from flightctl.services.common.kafka import TO_NOTIFIER, Handled, Incoming, Outgoing


class AlertEvaluator:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        repeat: timedelta,
        now: Callable[[], datetime],
        metrics: AlertMetrics,
    ) -> None:
        self._factory = factory
        self._repeat = repeat
        self._now = now
        self._metrics = metrics

    def handle(self, message: Incoming) -> Handled:
        reading = rules.Reading.parse(message.json())
        now = self._now()
        with transaction(self._factory) as session:
            if session.get(ProcessedEvent, reading.event_id) is not None:
                self._metrics.duplicates.inc()
                return Handled()
            state = session.get(AlertState, (reading.user_email, reading.airport_code))
        decision = rules.decide(
            reading,
            state.state if state else rules.OK,
            state.threshold if state else None,
            state.last_alert_at if state else None,
            now,
            self._repeat,
        )
        outputs = []
        if decision.alert is not None:
            outputs.append(Outgoing(TO_NOTIFIER, reading.user_email, rules.notification(reading, decision)))

        def commit() -> None:
            self._record(reading, decision, now)
            previous = state.state if state else rules.OK
            if decision.state != previous:
                self._metrics.transitions.labels(previous, decision.state).inc()
            if decision.alert is not None:
                self._metrics.alerts.labels(decision.alert).inc()

        return Handled(outputs, commit)

    def _record(self, reading: rules.Reading, decision: rules.Decision, now: datetime) -> None:
        with transaction(self._factory) as session:
            inserted = session.execute(
                insert(ProcessedEvent)
                .values(event_id=reading.event_id, processed_at=now)
                .on_conflict_do_nothing()
                .returning(ProcessedEvent.event_id)
            ).first()
            if inserted is None:
                return  # recorded by an earlier delivery of the same event
            values = {
                "state": decision.state,
                "threshold": decision.threshold,
                "last_alert_at": decision.alerted_at,
                "updated_at": now,
            }
            session.execute(
                insert(AlertState)
                .values(user_email=reading.user_email, airport_code=reading.airport_code, **values)
                .on_conflict_do_update(index_elements=["user_email", "airport_code"], set_=values)
            )


def purge_processed(factory: sessionmaker[Session], before: datetime) -> int:
    with transaction(factory) as session:
        return int(session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < before)).rowcount or 0)  # type: ignore[attr-defined]


def current_states(session: Session) -> list[AlertState]:
    return list(session.scalars(select(AlertState)))
