"""The Kafka handler: decode and validate a batch of messages, deliver the events, produce
nothing but dead letters."""

from __future__ import annotations

from flightctl.services.alert_notifier.events import Event, parse_event
from flightctl.services.alert_notifier.service import Notifier
from flightctl.services.common.kafka import SLA_BREACH, TO_NOTIFIER, BatchHandler, Handled, Incoming, decode_all

TOPICS = (TO_NOTIFIER, SLA_BREACH)
MAX_BATCH = 200
"""Messages per poll. A batch waits for its sends, which Telegram's limits pace (30/s overall,
1/s per chat): even 200 messages to one chat (200 s) stay inside the consumer's 300 s poll
interval, while the skipped and repeated events of a backlog go 200 at a time."""


def parse(message: Incoming) -> Event:
    return parse_event(message.topic, message.json())


def make_handler(notifier: Notifier) -> BatchHandler:
    """A malformed value becomes a dead letter. Every delivery is recorded in the database before
    the handler returns, so the runner may commit the offsets at once; an event that could not
    be delivered now (user-manager, Telegram or another consumer) is handed back to retry, and
    a database outage raises (the runner retries the batch)."""

    def handle(messages: list[Incoming]) -> Handled:
        parsed, dead = decode_all(messages, parse)
        if not parsed:
            return Handled(dead_letters=dead)
        report = notifier.deliver_batch([event for _, event in parsed])
        retry = [message for message, event in parsed if event.event_id in report.retry]
        return Handled(dead_letters=dead, retry=retry, summary=dict(report.counts))

    return handle
