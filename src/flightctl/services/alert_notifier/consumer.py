"""The Kafka handler: decode and validate one message, deliver it, produce nothing."""

from __future__ import annotations

from flightctl.services.alert_notifier.events import parse_event
from flightctl.services.alert_notifier.service import Notifier
from flightctl.services.common.kafka import SLA_BREACH, TO_NOTIFIER, Handled, Handler, Incoming

TOPICS = (TO_NOTIFIER, SLA_BREACH)


def make_handler(notifier: Notifier) -> Handler:
    """A malformed value raises MalformedMessage (dead-letter topic). The delivery is recorded
    in the database before the handler returns, so the runner may commit the offset at once;
    an outage (user-manager, Telegram, the database) raises and the runner retries the message
    after its pause."""

    def handle(message: Incoming) -> Handled:
        notifier.deliver(parse_event(message.topic, message.json()))
        return Handled(outputs=[], commit=None)

    return handle
