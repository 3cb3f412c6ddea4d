"""Applies a batch of readings: one read of the batch's alert states and already-processed ids,
the rule applied to each reading in order (pure: :func:`flightctl.services.alert_system.rules.fold`),
and, once the resulting notifications have been produced (the runner calls ``commit`` after
the broker's ack), one transaction recording the new states and every input event id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
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
        """One transaction, two statements whatever the batch's size: which of its event ids are
        recorded already, and the stored state of each of its (user, airport, kind)."""
        ids = sorted({r.event_id for r in readings})
        keys = sorted({rules.key_of(r) for r in readings})
        with transaction(self._factory) as session:
            seen = set(session.scalars(_SEEN, {"ids": ids}))
            rows = session.execute(
                _STATES,
                {"emails": [k[0] for k in keys], "airports": [k[1] for k in keys], "lives": [k[2] for k in keys]},
            )
            states = {
                (email, airport, live): rules.Stored(state, threshold, at)
                for email, airport, live, state, threshold, at in rows
            }
        return seen, states

    def _record(self, folded: rules.Folded, now: datetime) -> None:
        """One transaction, two statements: every input id, and the final state of each (user,
        airport, kind) that at least one newly recorded reading moved (an id another instance recorded
        meanwhile, during a rebalance, changes nothing, as with one reading at a time). The rows
        go as arrays (``unnest``), so the statements are the same for every batch."""
        with transaction(self._factory) as session:
            ids = [s.reading.event_id for s in folded.steps]
            inserted = set(session.scalars(_RECORD_IDS, {"ids": ids, "now": now}))
            fresh = {s.key for s in folded.steps if s.reading.event_id in inserted}
            moved = [(key, state) for key, state in folded.states.items() if key in fresh]
            if not moved:
                return
            session.execute(
                _UPSERT_STATES,
                {
                    "emails": [key[0] for key, _ in moved],
                    "airports": [key[1] for key, _ in moved],
                    "lives": [key[2] for key, _ in moved],
                    "states": [state.state for _, state in moved],
                    "thresholds": [state.threshold for _, state in moved],
                    "alerted": [state.last_alert_at for _, state in moved],
                    "now": now,
                },
            )


_SEEN = text("SELECT event_id FROM processed_events WHERE event_id = ANY(CAST(:ids AS varchar[]))")
_STATES = text(
    "SELECT s.user_email, s.airport_code, s.live, s.state, s.threshold, s.last_alert_at FROM alert_state s "
    "JOIN unnest(CAST(:emails AS varchar[]), CAST(:airports AS varchar[]), CAST(:lives AS boolean[])) "
    "AS k(user_email, airport_code, live) USING (user_email, airport_code, live)"
)
_RECORD_IDS = text(
    "INSERT INTO processed_events (event_id, processed_at) "
    "SELECT unnest(CAST(:ids AS varchar[])), :now ON CONFLICT DO NOTHING RETURNING event_id"
)
_UPSERT_STATES = text(
    "INSERT INTO alert_state (user_email, airport_code, live, state, threshold, last_alert_at, updated_at) "
    "SELECT k.*, :now FROM unnest(CAST(:emails AS varchar[]), CAST(:airports AS varchar[]), "
    "CAST(:lives AS boolean[]), CAST(:states AS varchar[]), CAST(:thresholds AS integer[]), "
    "CAST(:alerted AS timestamptz[])) AS k(user_email, airport_code, live, state, threshold, last_alert_at) "
    "ON CONFLICT (user_email, airport_code, live) DO UPDATE SET state = excluded.state, "
    "threshold = excluded.threshold, last_alert_at = excluded.last_alert_at, updated_at = excluded.updated_at"
)


def purge_processed(factory: sessionmaker[Session], before: datetime) -> int:
    with transaction(factory) as session:
        return int(session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < before)).rowcount or 0)  # type: ignore[attr-defined]


def current_states(session: Session) -> list[AlertState]:
    return list(session.scalars(select(AlertState)))
