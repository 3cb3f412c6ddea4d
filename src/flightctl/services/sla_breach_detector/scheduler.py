"""Runs a step on a fixed grid whose spacing follows the current config (``t_check``).

Unlike a sleep after each step, the next run time comes from the previous *scheduled* time,
so a slow step does not push the later ones back: a step that overruns is followed at once
by the next one, and only whole intervals that were missed entirely are skipped."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
MAX_WAIT_SECONDS = 60.0  # waits are chunked, so a huge interval never overflows Event.wait


def next_run(previous: float | None, interval: float, now: float) -> float:
    """When the step runs next: at ``previous + interval``; when that is already past, at the
    latest grid slot not after ``now`` (that is, right away), skipping the slots missed
    entirely. The first run (``previous`` is None) is now."""
    if previous is None:
        return now
    due = previous + interval
    if due < now:
        due += math.floor((now - due) / interval) * interval
    return due


class Scheduler:
    """A background thread calling ``step`` every ``interval()`` seconds until stopped.

    ``interval`` is read before every wait, so a new config takes effect without a restart
    (call :meth:`wake` after changing it). An error in one step is logged and the loop goes
    on; stop() is immediate between steps. ``clock`` and ``wait`` (which wake() and stop()
    interrupt by default) are injected so the loop is tested without waiting."""

    def __init__(
        self,
        name: str,
        interval: Callable[[], float],
        step: Callable[[], object],
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        self.name = name
        self._interval = interval
        self._step = step
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._wait = wait or self._wake.wait
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._previous: float | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            due = next_run(self._previous, float(self._interval()), now)
            if due > now:
                self._wait(min(due - now, MAX_WAIT_SECONDS))
                self._wake.clear()
                continue  # recompute: the interval may have changed, or the wait was cut short
            self._previous = due
            try:
                self._step()
            except Exception:
                log.exception("%s: step failed; the next one runs on schedule", self.name)

    def wake(self) -> None:
        """Recompute the next run time now (after the interval changed)."""
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end after the current step, without waiting for it."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        self.request_stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)

    def is_alive(self) -> bool:
        return self._thread.is_alive()
