"""Test-only crash points, inert unless ``FLIGHTCTL_FAULT_INJECT`` is set.

``FLIGHTCTL_FAULT_INJECT=alert-system:<point>`` makes the process SIGKILL itself (no cleanup,
no offset commit: a real crash) the first time a batch that causes notifications reaches
``<point>``:

- ``before-produce``: the batch is decided, nothing produced yet;
- ``mid-produce``: the batch's first notification is acknowledged by the broker, the others
  are not produced yet (only a batch with two notifications or more gets there);
- ``after-produce``: the broker acknowledged every notification of the batch (one flush);
  states and offsets not recorded;
- ``after-record``: the states are recorded too; only the offset commit is missing.

Integration tests use it to show that each crash ends in exactly one Telegram message per alert.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable
from typing import Any

from flightctl.services.alert_system.settings import FAULT_POINTS as POINTS
from flightctl.services.common.kafka import TO_NOTIFIER, BatchHandler, Handled, Incoming, Producer

__all__ = ["POINTS", "crash", "with_crash_point", "with_crashing_producer"]


def crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def with_crash_point(handler: BatchHandler, point: str | None, crash: Callable[[], None] = crash) -> BatchHandler:
    """``handler``, calling ``crash`` (SIGKILL of this process) at ``point`` when a batch
    produces notifications (``mid-produce`` is the producer's: :func:`with_crashing_producer`)."""
    if point is None or point == "mid-produce":
        return handler

    def handle(messages: list[Incoming]) -> Handled:
        handled = handler(messages)
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

        return dataclasses.replace(handled, commit=commit)

    return handle


def with_crashing_producer(producer: Producer, point: str | None, crash: Callable[[], None] = crash) -> Producer:
    """``producer``; at ``mid-produce``, one that crashes when a batch's second notification is
    about to be produced, once the first is acknowledged (the runner flushes once per batch)."""
    if point != "mid-produce":
        return producer
    return _CrashingProducer(producer, crash)


class _CrashingProducer:
    def __init__(self, inner: Producer, crash: Callable[[], None]) -> None:
        self._inner = inner
        self._crash = crash
        self._in_batch = 0

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        if topic == TO_NOTIFIER:
            self._in_batch += 1
            if self._in_batch == 2:
                self._inner.flush(timeout=30)  # the first one is on the broker
                self._crash()
        return self._inner.send(topic, value=value, key=key, headers=headers)

    def flush(self, timeout: float | None = None) -> None:
        self._in_batch = 0  # the runner flushes once per batch
        self._inner.flush(timeout=timeout)
