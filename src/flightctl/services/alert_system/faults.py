"""Test-only crash points, inert unless ``FLIGHTCTL_FAULT_INJECT`` is set.

``FLIGHTCTL_FAULT_INJECT=alert-system:<point>`` makes the process SIGKILL itself (no cleanup,
no offset commit: a real crash) the first time a message reaches ``<point>``:

- ``before-produce``: the reading is decided and a notification is due, nothing produced yet;
- ``after-produce``: the broker acknowledged the notification; state and offset not recorded;
- ``after-record``: the state is recorded too; only the offset commit is missing.

Integration tests use it to show that each crash ends in exactly one Telegram message.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from flightctl.services.alert_system.settings import FAULT_POINTS as POINTS
from flightctl.services.common.kafka import Handled, Handler, Incoming

__all__ = ["POINTS", "crash", "with_crash_point"]


def crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def with_crash_point(handler: Handler, point: str | None, crash: Callable[[], None] = crash) -> Handler:
    """``handler``, calling ``crash`` (SIGKILL of this process) at ``point`` when a message
    produces a notification."""
    if point is None:
        return handler

    def handle(message: Incoming) -> Handled:
        handled = handler(message)
        if not handled.outputs:
            return handled
        if point == "before-produce":
            crash()
        inner = handled.commit

        def commit() -> None:
            if point == "after-produce":
                crash()
            if inner is not None:
                inner()
            crash()  # after-record

        return Handled(handled.outputs, commit)

    return handle
