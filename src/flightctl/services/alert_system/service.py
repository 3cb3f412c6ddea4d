"""Applies a batch of readings: one read of the batch's alert states and already-processed ids,
the rule applied to each reading in order (pure: :func:`flightctl.services.alert_system.rules.fold`),
and, once the resulting notifications have been produced (the runner calls ``commit`` after
the broker's ack), one transaction recording the new states and every input event id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.alert_system import rules
from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.alert_system.models import AlertState, ProcessedEvent
from flightctl.services.common.db import transaction
from flightctl.services.common.kafka import TO_NOTIFIER, Handled, Incoming, Outgoing, decode_all

log = logging.getLogger(__name__)


def parse(message: Incoming) -> rules.Reading:
    return rules.Reading.parse(message.json())


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

    def handle(self, messages: list[Incoming]) -> Handled:
        """The runner's batch handler: malformed readings are dead letters, the others are
        decided in order against the stored states."""
        parsed, dead = decode_all(messages, parse)
        readings = [reading for _, reading in parsed]
        if not readings:
            return Handled(dead_letters=dead)
        now = self._now()
        seen, states = self._load(readings)
        folded = rules.fold(readings, states, seen, now, self._repeat)
        if folded.duplicates:
            self._metrics.duplicates.inc(folded.duplicates)
        outputs = [Outgoing(TO_NOTIFIER, s.reading.user_email, s.notification) for s in folded.steps if s.notification]
        for step in folded.steps:
            log.debug(
                "reading %s: %s -> %s%s",
                step.reading.event_id,
                step.previous,
                step.decision.state,
                f", alert {step.decision.alert}" if step.decision.alert else "",
            )
        summary = {"notifications": len(outputs), "duplicates": folded.duplicates}
        if not folded.steps:
            return Handled(dead_letters=dead, summary=summary)

        def commit() -> None:
            self._record(folded, now)
            for step in folded.steps:
                if step.decision.state != step.previous:
                    self._metrics.transitions.labels(step.previous, step.decision.state).inc()
                if step.decision.alert is not None:
                    self._metrics.alerts.labels(step.decision.alert).inc()

        return Handled(outputs=outputs, commit=commit, dead_letters=dead, summary=summary)

    def _load(self, readings: list[rules.Reading]) -> tuple[set[str], dict[rules.Key, rules.Stored]]:
        ids = {r.event_id for r in readings}
        keys = {(r.user_email, r.airport_code) for r in readings}
        with transaction(self._factory) as session:
            seen = set(session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(ids))))
            rows = session.scalars(
                select(AlertState).where(tuple_(AlertState.user_email, AlertState.airport_code).in_(keys))
            )
            states = {(s.user_email, s.airport_code): rules.Stored(s.state, s.threshold, s.last_alert_at) for s in rows}
        return seen, states

    def _record(self, folded: rules.Folded, now: datetime) -> None:
        """One transaction: every input id, and the final state of each (user, airport) that at
        least one newly recorded reading moved (an id another instance recorded meanwhile, during
        a rebalance, changes nothing, as with one reading at a time)."""
        with transaction(self._factory) as session:
            inserted = set(
                session.scalars(
                    insert(ProcessedEvent)
                    .values([{"event_id": s.reading.event_id, "processed_at": now} for s in folded.steps])
                    .on_conflict_do_nothing()
                    .returning(ProcessedEvent.event_id)
                )
            )
            moved = {s.key for s in folded.steps if s.reading.event_id in inserted}
            if not moved:
                return
            rows = [
                {
                    "user_email": key[0],
                    "airport_code": key[1],
                    "state": state.state,
                    "threshold": state.threshold,
                    "last_alert_at": state.last_alert_at,
                    "updated_at": now,
                }
                for key, state in folded.states.items()
                if key in moved
            ]
            statement = insert(AlertState).values(rows)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_email", "airport_code"],
                    set_={
                        "state": statement.excluded.state,
                        "threshold": statement.excluded.threshold,
                        "last_alert_at": statement.excluded.last_alert_at,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )


def purge_processed(factory: sessionmaker[Session], before: datetime) -> int:
    with transaction(factory) as session:
        return int(session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < before)).rowcount or 0)  # type: ignore[attr-defined]


def current_states(session: Session) -> list[AlertState]:
    return list(session.scalars(select(AlertState)))
