"""Deep-link linking on the bot's side: a user opens ``https://t.me/<bot>?start=<code>`` (the
code comes from user-manager's ``POST /users/telegram/link``), Telegram sends ``/start <code>``
from the user's chat, and this module redeems the code (gRPC ``LinkTelegram``) with that chat's
id and answers in the chat.

:class:`UpdatePoller` long-polls ``getUpdates`` in a thread (offset = last update_id + 1); a
failed poll waits with a growing pause, so it never spins, and ``stop()`` cancels the poll in
flight. :class:`LinkBot` decides the answer; :class:`BotProfile` is the cached getMe behind
``GET /telegram/bot``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import threading
import time
from collections.abc import Callable
from html import escape
from typing import Any, Protocol

from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.telegram import IncomingText, TelegramFailure
from flightctl.services.alert_notifier.users import EXPIRED, INVALID, LINKED, TAKEN, UNKNOWN, Link
from flightctl.services.common.backoff import Backoff
from flightctl.services.common.errors import Unavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 10
"""Long-poll length; stop() does not wait for it (the poll is cancelled)."""
MIN_POLL_INTERVAL_SECONDS = 1.0
"""An empty answer that came back sooner than this waits the rest (a server ignoring timeout)."""
BACKOFF = Backoff(base=1.0, cap=30.0)
"""Pauses after failed polls."""
LEADER_RETRY_SECONDS = 5.0
"""How often a replica that does not poll checks whether it should take over."""
PROFILE_TTL_SECONDS = 3600.0

_START = re.compile(r"/start(?:@[A-Za-z0-9_]+)?(?:\s+(\S+))?\s*", re.IGNORECASE)

HELP = (
    "Hello! To receive flight alerts here, link this chat to your flightctl account: "
    "run <code>flightctl users telegram EMAIL --link</code> and open the link it prints."
)
REPLIES = {
    UNKNOWN: "Sorry, this link is not valid. Please ask for a new one with "
    "<code>flightctl users telegram EMAIL --link</code>.",
    EXPIRED: "Sorry, this link has expired or was already used. Please ask for a new one with "
    "<code>flightctl users telegram EMAIL --link</code>.",
    TAKEN: "Sorry, this chat is already linked to another flightctl account, so it cannot be linked to this one.",
    INVALID: "Sorry, this chat cannot be linked.",
}
TRY_LATER = "Sorry, the link could not be completed right now. Please open the link again in a few minutes."


def confirmation(email: str) -> str:
    return f"✅ This chat is now linked to <b>{escape(email)}</b>. Flight alerts for this account will arrive here."


def start_code(text: str | None) -> tuple[bool, str | None]:
    """(is it /start?, its code or None)."""
    if not text:
        return False, None
    match = _START.fullmatch(text.strip())
    if match is None:
        return False, None
    return True, match.group(1)


class LinkBot:
    """Answers ``/start`` messages; every other message is ignored."""

    def __init__(
        self,
        *,
        link: Link,
        send: Callable[[str, str], object],
        metrics: NotifierMetrics,
        linked: Callable[[str], None] = lambda _email: None,
    ) -> None:
        self._link = link
        self._send = send
        self._metrics = metrics
        self._linked = linked

    def reply_to(self, message: IncomingText) -> str | None:
        """The answer to ``message`` (HTML), None when it needs none; redeems a code."""
        is_start, code = start_code(message.text)
        if not is_start or message.chat_id is None:
            return None
        if code is None:
            self._metrics.link_requests.labels("help").inc()
            return HELP
        try:
            result = self._link(code, message.chat_id)
        except Unavailable as exc:
            log.warning("linking a Telegram chat failed: %s", exc)
            self._metrics.link_requests.labels("unavailable").inc()
            return TRY_LATER
        self._metrics.link_requests.labels(result.outcome).inc()
        if result.outcome == LINKED and result.email:
            log.info("a Telegram chat was linked to a user (update %d)", message.update_id)
            self._linked(result.email)
            return confirmation(result.email)
        log.info("a Telegram link code was refused: %s (update %d)", result.outcome, message.update_id)
        return REPLIES.get(result.outcome, REPLIES[INVALID])

    def handle(self, message: IncomingText) -> None:
        reply = self.reply_to(message)
        if reply is None or message.chat_id is None:
            return
        try:
            self._send(message.chat_id, reply)
        except TelegramFailure as exc:
            log.warning("the answer to a /start message was not delivered: %s", exc.message)


class OffsetStore(Protocol):
    def load(self) -> int | None: ...

    def save(self, next_offset: int) -> None: ...


Fetch = Callable[[int | None, int], "concurrent.futures.Future[list[IncomingText]]"]


class UpdatePoller:
    """A component: long-polls ``fetch`` and hands each update to ``handle``, in order."""

    def __init__(
        self,
        *,
        fetch: Fetch,
        handle: Callable[[IncomingText], None],
        poll_timeout: int = POLL_TIMEOUT_SECONDS,
        min_interval: float = MIN_POLL_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        redact: Callable[[str], str] = lambda text: text,
        leader: Callable[[], bool] = lambda: True,
        release: Callable[[], None] = lambda: None,
        offsets: OffsetStore | None = None,
        leader_retry: float = LEADER_RETRY_SECONDS,
    ) -> None:
        """``sleep(seconds)`` waits between polls (default: the stop event's wait, cut short
        by stop()). Only one poller may call getUpdates per bot (Telegram answers 409 to a
        second one): with several replicas, ``leader()`` says whether this one polls (it is
        asked before every poll; ``release()`` gives leadership up on stop), and ``offsets``
        keeps the next offset in the database, saved after each handled update, so the next
        leader, or this one after a restart, starts where the last one stopped."""
        self._leader = leader
        self._release = release
        self._offsets = offsets
        self._leader_retry = leader_retry
        self._fetch = fetch
        self._handle = handle
        self._poll_timeout = poll_timeout
        self._min_interval = min_interval
        self._clock = clock
        self._redact = redact
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._lock = threading.Lock()
        self._pending: concurrent.futures.Future[list[IncomingText]] | None = None
        self._thread = threading.Thread(target=self._run, name="telegram-updates", daemon=True)
        self.offset: int | None = None
        self._confirmed: int | None = None  # the offset Telegram last received
        self.polls = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the loop: cancel the long poll in flight and wait (up to 5 s) for the loop to
        confirm the last offset and give leadership up. Called from ``handle``, ``fetch`` or
        ``leader`` (the loop's own thread), it only asks: the loop ends after the current step."""
        self._stop.set()
        with self._lock:
            pending = self._pending
        if pending is not None:
            pending.cancel()
        if threading.current_thread() is not self._thread:
            self.join(timeout=5)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the loop has ended (after stop()); True when it has."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._release()

    def _leading(self) -> bool:
        try:
            return self._leader()
        except Exception as exc:  # the database is away: do not poll until it is back
            log.warning("cannot tell whether this replica polls Telegram (%s)", self._describe(exc))
            return False

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if not self._leading():
                self.offset = None  # another replica polls; start from the stored offset when this one takes over
                self._sleep(self._leader_retry)
                continue
            started = self._clock()
            try:
                if self.offset is None and self._offsets is not None:
                    self.offset = self._offsets.load()
                updates = self._poll()
            except _Stopping:
                break
            except Exception as exc:  # any failure of one poll: wait, then poll again
                failures += 1
                wait = BACKOFF.delay(failures)
                log.warning("telegram getUpdates failed (%s); polling again in %.0fs", self._describe(exc), wait)
                self._sleep(wait)
                continue
            failures = 0
            self.polls += 1
            for update in updates:
                self.offset = max(self.offset or 0, update.update_id + 1)
                try:
                    self._handle(update)
                except Exception:
                    log.exception("handling Telegram update %d failed; it is skipped", update.update_id)
                self._save(self.offset)
            if not updates:
                rest = self._min_interval - (self._clock() - started)
                if rest > 0:
                    self._sleep(rest)
        self._confirm()

    def _poll(self) -> list[IncomingText]:
        offset = self.offset
        future = self._fetch(offset, self._poll_timeout)
        with self._lock:
            self._pending = future
        try:
            if self._stop.is_set():
                future.cancel()
                raise _Stopping
            # The client's own read timeout ends a hung poll; this bound only guards the loop.
            updates = future.result(timeout=self._poll_timeout + 30)
            self._confirmed = offset
            return updates
        except concurrent.futures.CancelledError:
            if self._stop.is_set():
                raise _Stopping from None
            raise
        except TimeoutError:
            future.cancel()
            raise
        finally:
            with self._lock:
                self._pending = None

    def _save(self, offset: int) -> None:
        if self._offsets is None:
            return
        try:
            self._offsets.save(offset)
        except Exception as exc:  # Telegram's own confirmation (the next poll) still holds
            log.warning("saving the Telegram update offset failed (%s)", self._describe(exc))

    def _confirm(self) -> None:
        """On the way out, tell Telegram which updates were handled (a zero-timeout poll with
        the next offset), so a restart does not answer them twice."""
        if self.offset is None or self.offset == self._confirmed:
            return
        try:
            self._fetch(self.offset, 0).result(timeout=3)
        except Exception as exc:  # best effort: at worst a /start is answered again
            log.warning("confirming the handled Telegram updates failed (%s)", self._describe(exc))

    def _describe(self, exc: BaseException) -> str:
        return self._redact(f"{type(exc).__name__}: {exc}")[:300]


class _Stopping(Exception):
    pass


class BotProfile:
    """The bot's username from getMe, cached; Unavailable without a bot or an answer."""

    def __init__(
        self,
        username: Callable[[], str] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = PROFILE_TTL_SECONDS,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._username = username
        self._clock = clock
        self._ttl = ttl
        self._redact = redact
        self._cached: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        if self._username is None:
            raise Unavailable("no Telegram bot is configured (TELEGRAM_BOT_TOKEN is not set)")
        now = self._clock()
        with self._lock:
            cached = self._cached
        if cached is None or now - cached[0] >= self._ttl:
            try:
                name = self._username()
            except Exception as exc:  # Telegram unreachable or refusing: the caller gets 503
                log.warning("telegram getMe failed: %s", self._redact(f"{type(exc).__name__}: {exc}")[:300])
                raise Unavailable("Telegram did not answer getMe; try again later") from None
            cached = (now, name)
            with self._lock:
                self._cached = cached
        username = cached[1]
        return {"username": username, "link_base": f"https://t.me/{username}"}
