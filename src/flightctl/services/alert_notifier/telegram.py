"""Sending to Telegram through python-telegram-bot: a retry policy, a rate limiter and the
sender that runs PTB's asyncio Bot on its own event loop thread.

Time is injected: ``clock`` returns monotonic seconds, ``sleep(seconds)`` waits and returns a
true value when the wait was cut short because the process is stopping (``Event.wait``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.common.backoff import Backoff

log = logging.getLogger(__name__)

Sleep = Callable[[float], object]
Clock = Callable[[], float]
T = TypeVar("T")

PARSE_MODE = "HTML"
PTB_TIMEDELTA = "PTB_TIMEDELTA"
BACKOFF = Backoff(base=0.5, cap=10.0)
"""Pauses after transient failures (network errors, timeouts, 5xx)."""
PER_CHAT_INTERVAL_SECONDS = 1.0
GLOBAL_MESSAGES_PER_SECOND = 30


class TelegramFailure(Exception):
    """A message was not delivered; ``attempts`` is how many calls this send made."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts


class PermanentFailure(TelegramFailure):
    """Telegram refused the message (bad request, bot blocked, chat not found, bad token):
    sending it again cannot succeed."""


class TransientFailure(TelegramFailure):
    """Telegram could not be reached or was overloaded on every attempt; try again later."""


class Interrupted(Exception):
    """A wait was cut short because the process is stopping."""


# -- rate limiting ----------------------------------------------------------------------------


class RateLimiter:
    """At most one message per ``per_chat_interval`` to a chat and ``global_rate`` messages per
    second overall (Telegram's limits for bots), waiting with the injected sleep."""

    def __init__(
        self,
        *,
        clock: Clock,
        sleep: Sleep,
        per_chat_interval: float = PER_CHAT_INTERVAL_SECONDS,
        global_rate: int = GLOBAL_MESSAGES_PER_SECOND,
        window: float = 1.0,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._interval = per_chat_interval
        self._rate = global_rate
        self._window = window
        self._last: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def delay(self, chat_id: str, now: float) -> float:
        """Seconds to wait before a message to ``chat_id`` may go (0 when it may go now)."""
        while self._recent and now - self._recent[0] >= self._window:
            self._recent.popleft()
        wait = 0.0
        last = self._last.get(chat_id)
        if last is not None:
            wait = max(wait, last + self._interval - now)
        if len(self._recent) >= self._rate:
            wait = max(wait, self._recent[0] + self._window - now)
        return wait

    def acquire(self, chat_id: str) -> Slot:
        """Wait until a message to ``chat_id`` may go and count it as gone."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self.delay(chat_id, now)
                if wait <= 0:
                    slot = Slot(chat_id, now, self._last.get(chat_id))
                    self._recent.append(now)
                    self._last[chat_id] = now
                    if len(self._last) > 1024:  # forget chats that may send again anyway
                        self._last = {c: t for c, t in self._last.items() if now - t < self._interval}
                    return slot
            if self._sleep(wait):
                raise Interrupted

    def release(self, slot: Slot) -> None:
        """The message of ``slot`` was not delivered: it does not count against the limits."""
        with self._lock:
            if self._last.get(slot.chat_id) == slot.at:
                if slot.previous is None:
                    del self._last[slot.chat_id]
                else:
                    self._last[slot.chat_id] = slot.previous
            with contextlib.suppress(ValueError):
                self._recent.remove(slot.at)


@dataclass(frozen=True)
class Slot:
    chat_id: str
    at: float
    previous: float | None


# -- retry policy -----------------------------------------------------------------------------


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asks for: ``retry_after`` is a timedelta in a process that opted in to
    PTB's timedelta durations (make_bot does), else a number of seconds (older PTB)."""
    raw: Any = exc.retry_after
    if isinstance(raw, timedelta):
        return max(0.0, raw.total_seconds())
    return max(0.0, float(raw))


def classify(exc: TelegramError) -> tuple[str, bool]:
    """(error kind for metrics, permanent?) of a failed call. BadRequest is a NetworkError in
    PTB, so it is checked first; a NetworkError without a cause is an HTTP error answer (5xx)."""
    if isinstance(exc, Forbidden):
        return "forbidden", True
    if isinstance(exc, InvalidToken):
        return "invalid_token", True
    if isinstance(exc, BadRequest):
        return "bad_request", True
    if isinstance(exc, TimedOut):
        return "timeout", False
    if isinstance(exc, NetworkError):
        return ("network" if exc.__cause__ is not None else "server_error"), False
    if isinstance(exc, ChatMigrated):
        return "chat_migrated", True
    return "other", True


def redactor(token: str | None) -> Callable[[str], str]:
    """A function masking the bot token (PTB puts it in some error messages)."""

    def redact(text: str) -> str:
        return text.replace(token, "***") if token else text

    return redact


class RetryPolicy:
    """Runs one send with retries: a 429 waits its retry_after, network errors, timeouts and
    5xx back off exponentially, refusals stop at once; at most ``max_attempts`` calls."""

    def __init__(
        self,
        *,
        max_attempts: int,
        sleep: Sleep,
        clock: Clock = time.monotonic,
        limiter: RateLimiter | None = None,
        metrics: NotifierMetrics | None = None,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        self._limiter = limiter
        self._metrics = metrics
        self._redact = redact

    def run(self, chat_id: str, call: Callable[[], object]) -> int:
        """Call until it succeeds; returns the number of calls made, else raises
        :class:`PermanentFailure` or :class:`TransientFailure`."""
        failures = 0
        last_error = "not attempted"
        for attempt in range(1, self.max_attempts + 1):
            try:
                slot = self._limiter.acquire(chat_id) if self._limiter is not None else None
            except Interrupted:
                raise TransientFailure("interrupted: the service is stopping", attempt - 1) from None
            started = self._clock()
            try:
                call()
            except TelegramError as exc:
                if slot is not None and self._limiter is not None:
                    self._limiter.release(slot)  # not delivered: no wait before the retry
                error = exc
            else:
                self._observe(started, None)
                return attempt
            if isinstance(error, RetryAfter):
                self._observe(started, "rate_limited")
                wait = retry_after_seconds(error)
                last_error = f"rate limited by Telegram: retry after {wait:g}s"
            else:
                kind, permanent = classify(error)
                self._observe(started, kind)
                last_error = self._redact(error.message)
                if permanent:
                    raise PermanentFailure(last_error, attempt) from None
                failures += 1
                wait = BACKOFF.delay(failures)
            if attempt == self.max_attempts:
                break
            log.warning(
                "telegram: %s; retrying in %.1fs (attempt %d of %d)",
                last_error,
                wait,
                attempt,
                self.max_attempts,
            )
            if self._sleep(wait):
                raise TransientFailure(f"{last_error} (interrupted: stopping)", attempt)
        raise TransientFailure(last_error, self.max_attempts)

    def _observe(self, started: float, error_kind: str | None) -> None:
        if self._metrics is None:
            return
        self._metrics.telegram_latency.observe(max(0.0, self._clock() - started))
        if error_kind is not None:
            self._metrics.telegram_errors.labels(error_kind).inc()


# -- the sender -------------------------------------------------------------------------------


class BotLike(Protocol):
    """The part of ``telegram.Bot`` the sender uses (tests pass a fake)."""

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def send_message(self, *args: Any, **kwargs: Any) -> Any: ...

    async def get_me(self, *args: Any, **kwargs: Any) -> Any: ...

    async def get_updates(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class IncomingText:
    """The part of a Telegram Update the bot acts on (text messages only)."""

    update_id: int
    chat_id: str | None
    text: str | None


def make_bot(token: str, api_url: str, timeout: float) -> Bot:
    # PTB >= 22.2 warns on every 429 (RetryAfter reads its own retry_after) unless the process
    # opts in to timedelta durations; retry_after_seconds() reads both forms.
    os.environ.setdefault(PTB_TIMEDELTA, "true")
    request = HTTPXRequest(
        connection_pool_size=4,
        connect_timeout=min(5.0, timeout),
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )
    return Bot(token, base_url=f"{api_url.rstrip('/')}/bot", request=request)


class TelegramSender:
    """Sends HTML messages with a PTB Bot. PTB is asyncio and its HTTPX client is bound to a
    loop, so the sender owns one loop in a daemon thread and every call is submitted to it.
    The Bot is initialised (getMe) lazily, on the first send, so the service starts while
    Telegram is unreachable; it is shut down on stop()."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        policy: RetryPolicy,
        timeout: float = 10.0,
        bot: BotLike | None = None,
    ) -> None:
        self._policy = policy
        self.redact = redactor(token)
        self._timeout = timeout
        self._bot: BotLike = bot if bot is not None else make_bot(token, api_url, timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # lifecycle

    def start(self) -> None:
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run_loop, args=(loop,), name="telegram-loop", daemon=True)
            self._loop = loop
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._bot.shutdown(), loop).result(timeout=5)
        except Exception as exc:
            log.warning("telegram: shutting the bot down failed: %s", self.redact(str(exc)))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    def __enter__(self) -> TelegramSender:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # sending

    def send(self, chat_id: str, text: str) -> int:
        """Deliver ``text`` (HTML) to ``chat_id``; returns the calls it took, else raises
        :class:`PermanentFailure` or :class:`TransientFailure`."""
        return self._policy.run(chat_id, lambda: self._call(self._send_once(chat_id, text)))

    async def _send_once(self, chat_id: str, text: str) -> None:
        await self._bot.initialize()  # getMe once; a no-op when done
        await self._bot.send_message(chat_id=chat_id, text=text, parse_mode=PARSE_MODE)

    # the bot's own profile and its incoming messages (deep-link linking)

    def username(self) -> str:
        """The bot's username (getMe); raises TelegramError when Telegram cannot answer."""
        return self._call(self._username())

    async def _username(self) -> str:
        me = await self._bot.get_me(read_timeout=min(5.0, self._timeout), connect_timeout=min(5.0, self._timeout))
        if not getattr(me, "username", None):
            raise TelegramError("getMe returned no username")
        return str(me.username)

    def get_updates(self, offset: int | None, timeout: int) -> concurrent.futures.Future[list[IncomingText]]:
        """Start one long poll (getUpdates, messages only) on the sender's loop; the caller
        waits on the future, and cancelling it ends the poll at once."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the Telegram sender is not started")
        return asyncio.run_coroutine_threadsafe(self._updates(offset, timeout), loop)

    async def _updates(self, offset: int | None, timeout: int) -> list[IncomingText]:
        updates = await self._bot.get_updates(offset=offset, timeout=timeout, allowed_updates=["message"])
        found = []
        for update in updates:
            message = getattr(update, "message", None)
            chat = getattr(message, "chat", None)
            found.append(
                IncomingText(
                    update_id=int(update.update_id),
                    chat_id=str(chat.id) if chat is not None else None,
                    text=getattr(message, "text", None),
                )
            )
        return found

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the Telegram sender is not started")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            # PTB enforces its own timeouts; this only guards against a wedged loop.
            return future.result(timeout=self._timeout * 3 + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimedOut("the Telegram call did not finish in time") from None
