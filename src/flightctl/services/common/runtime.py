"""Process lifecycle shared by every service: load settings, log them masked, start the
components, stop them cleanly (reverse order) on SIGTERM or SIGINT. :func:`serve` is each
service's ``main()``."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from flightctl.services.common.errors import ConfigError
from flightctl.services.common.logs import configure_logging
from flightctl.services.common.settings import BaseSettings

log = logging.getLogger(__name__)
S = TypeVar("S", bound=BaseSettings)


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def load_settings(service: str, settings_type: type[S]) -> S:
    """Settings from the environment; a bad value ends the process with one line."""
    try:
        settings = settings_type.from_env(os.environ)
    except ConfigError as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(service, settings.log_format, settings.log_level)
    log.info("starting with settings", extra={"settings": settings.masked()})
    return settings


def run_until_signalled(service: str, build: Callable[[threading.Event], Sequence[Component]]) -> None:
    """Build the components, start them, and block until SIGTERM/SIGINT; then stop them."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        components = list(build(stop))
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        raise SystemExit(2) from None
    started: list[Component] = []
    try:
        for component in components:
            component.start()
            started.append(component)
        log.info("%s is running", service)
        stop.wait()
    finally:
        for component in reversed(started):
            try:
                component.stop()
            except Exception:
                log.exception("error while stopping %s", type(component).__name__)
        log.info("%s stopped", service)


def serve(
    service: str,
    settings_type: type[S],
    factory: Callable[[S, threading.Event], Sequence[Component]],
) -> None:
    """The process entry point of every service (``python -m flightctl.services.<name>``,
    ``flightctl serve <name>``): its settings from the environment, then the components
    ``factory(settings, stop)`` builds, run until SIGTERM or SIGINT. ``stop`` is the process's
    stop event, set on the signal before the components stop (to cut waits short)."""
    settings = load_settings(service, settings_type)
    run_until_signalled(service, lambda stop: factory(settings, stop))


class BackgroundLoop:
    """Calls ``step`` every ``interval`` seconds in a thread until stopped.

    The wait is on an Event, so stop() is immediate; an error in one step is logged and the
    loop goes on.
    """

    def __init__(self, name: str, interval: float, step: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self._step = step
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._step()
            except Exception:
                log.exception("%s: step failed; retrying in %.0fs", self.name, self.interval)
            self._wake.wait(self.interval)

    def wake(self) -> None:
        """Run the next step now instead of at the end of the interval."""
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def is_alive(self) -> bool:
        return self._thread.is_alive()


class OnStop:
    """A component that only releases resources (engines, channels, producers) when stopped.
    Put it first in the component list: components stop in reverse order."""

    def __init__(self, *callbacks: Callable[[], object]) -> None:
        self._callbacks = callbacks

    def start(self) -> None:
        return None

    def stop(self) -> None:
        for callback in self._callbacks:
            callback()
