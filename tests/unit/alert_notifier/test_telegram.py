"""The retry policy, the rate limiter and the sender, with a fake bot, a fake clock and a
recording sleep: nothing waits and nothing touches the network."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from flightctl.services.alert_notifier.events import AlertEvent
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.service import Dispatcher, Notifier
from flightctl.services.alert_notifier.telegram import (
    BACKOFF,
    PermanentFailure,
    RateLimiter,
    RetryPolicy,
    Slot,
    TelegramSender,
    TransientFailure,
    classify,
    redactor,
    retry_after_seconds,
)
from tests.unit.alert_notifier.fakes import T0, FakeClock, FakeDirectory, FakeStore

TOKEN = "123456:SECRET-token"


@pytest.fixture(autouse=True)
def _timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    # As make_bot() does for the process: PTB >= 22.2 warns on every RetryAfter otherwise.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def alert_event(event_id: str, email: str) -> AlertEvent:
    return AlertEvent(event_id, email, "LIRF", "high", 10, 2, None, "opensky")


def server_error() -> NetworkError:
    return NetworkError("Internal Server Error")  # what PTB raises for a 5xx answer


class FakeBot:
    """The async surface of telegram.Bot; ``script`` holds errors to raise, in order."""

    def __init__(self, *script: Exception) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []
        self.calls = 0
        self.initialized = 0
        self.shut_down = 0

    async def initialize(self) -> None:
        self.initialized += 1

    async def shutdown(self) -> None:
        self.shut_down += 1

    async def send_message(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.script:
            raise self.script.pop(0)
        self.sent.append(kwargs)
        return SimpleNamespace(message_id=len(self.sent))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> NotifierMetrics:
    return NotifierMetrics(registry)


def policy(clock: FakeClock, metrics: NotifierMetrics | None = None, attempts: int = 5) -> RetryPolicy:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    return RetryPolicy(
        max_attempts=attempts,
        sleep=clock.sleep,
        clock=clock,
        limiter=limiter,
        metrics=metrics,
        redact=redactor(TOKEN),
    )


@pytest.fixture
def make_sender(clock: FakeClock) -> Iterator[Any]:
    senders: list[TelegramSender] = []

    def make(bot: FakeBot, attempts: int = 5, metrics: NotifierMetrics | None = None) -> TelegramSender:
        sender = TelegramSender(
            token=TOKEN, api_url="http://telegram.invalid", policy=policy(clock, metrics, attempts), bot=bot
        )
        sender.start()
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.stop()


def test_a_message_is_sent_once_as_html(make_sender: Any) -> None:
    bot = FakeBot()
    assert make_sender(bot).send("42", "<b>hi</b>") == 1
    assert bot.sent == [{"chat_id": "42", "text": "<b>hi</b>", "parse_mode": "HTML"}]


def test_429_waits_its_retry_after_then_sends_once(make_sender: Any, clock: FakeClock) -> None:
    bot = FakeBot(RetryAfter(timedelta(seconds=3)))
    assert make_sender(bot).send("42", "hello") == 2
    assert len(bot.sent) == 1
    assert clock.sleeps == [3.0]


def test_three_server_errors_back_off_then_send_once(make_sender: Any, clock: FakeClock) -> None:
    bot = FakeBot(server_error(), server_error(), server_error())
    assert make_sender(bot).send("42", "hello") == 4
    assert len(bot.sent) == 1
    assert clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [
        BadRequest("Bad Request: can't parse entities"),
        Forbidden("Forbidden: bot was blocked by the user"),
        BadRequest("Bad Request: chat not found"),
        InvalidToken("Unauthorized"),
    ],
)
def test_a_refusal_is_permanent_and_not_retried(make_sender: Any, clock: FakeClock, error: Exception) -> None:
    bot = FakeBot(error)
    with pytest.raises(PermanentFailure) as failure:
        make_sender(bot).send("42", "hello")
    assert failure.value.attempts == 1
    assert bot.calls == 1
    assert bot.sent == []
    assert clock.sleeps == []


def test_transient_failures_give_up_after_max_attempts(make_sender: Any, clock: FakeClock) -> None:
    bot = FakeBot(*(TimedOut() for _ in range(10)))
    with pytest.raises(TransientFailure) as failure:
        make_sender(bot, attempts=3).send("42", "hello")
    assert failure.value.attempts == 3
    assert bot.calls == 3
    assert clock.sleeps == [0.5, 1.0]  # no wait after the last attempt


def test_the_bot_is_initialised_lazily_and_shut_down_on_stop(clock: FakeClock) -> None:
    bot = FakeBot()
    sender = TelegramSender(token=TOKEN, api_url="http://telegram.invalid", policy=policy(clock), bot=bot)
    sender.start()
    assert bot.initialized == 0  # starting never calls Telegram
    sender.send("1", "a")
    sender.send("2", "b")
    sender.stop()
    assert bot.initialized == 2  # Bot.initialize() itself is a no-op once done
    assert bot.shut_down == 1


def test_sending_before_start_is_an_error(clock: FakeClock) -> None:
    sender = TelegramSender(token=TOKEN, api_url="http://x.invalid", policy=policy(clock), bot=FakeBot())
    with pytest.raises(RuntimeError):
        sender.send("1", "a")


def test_backoff_doubles_from_half_a_second_up_to_ten() -> None:
    assert [BACKOFF.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_retry_after_in_seconds_or_timedelta() -> None:
    assert retry_after_seconds(RetryAfter(timedelta(seconds=7))) == 7.0
    assert retry_after_seconds(RetryAfter(2)) == 2.0
    older_ptb = SimpleNamespace(retry_after=5)  # PTB < 22.2: a plain int attribute
    assert retry_after_seconds(older_ptb) == 5.0  # type: ignore[arg-type]
    assert retry_after_seconds(SimpleNamespace(retry_after=timedelta(seconds=1.5))) == 1.5  # type: ignore[arg-type]


def test_classification() -> None:
    cause = NetworkError("httpx.ConnectError: refused")
    cause.__cause__ = OSError("refused")
    assert classify(cause) == ("network", False)
    assert classify(server_error()) == ("server_error", False)
    assert classify(TimedOut()) == ("timeout", False)
    assert classify(BadRequest("x")) == ("bad_request", True)
    assert classify(Forbidden("x")) == ("forbidden", True)
    assert classify(InvalidToken("x")) == ("invalid_token", True)


def test_a_stop_cuts_the_wait_short() -> None:
    waits: list[float] = []

    def stopping(seconds: float) -> bool:
        waits.append(seconds)
        return True

    calls = []

    def call() -> None:
        calls.append(1)
        raise server_error()

    with pytest.raises(TransientFailure, match="stopping") as failure:
        RetryPolicy(max_attempts=5, sleep=stopping).run("1", call)
    assert failure.value.attempts == 1
    assert (len(calls), waits) == (1, [0.5])


def test_errors_are_counted_and_timed_and_the_token_is_masked(
    clock: FakeClock, metrics: NotifierMetrics, registry: CollectorRegistry
) -> None:
    errors = [server_error(), InvalidToken(f"The token `{TOKEN}` was rejected by the server.")]

    def call() -> None:
        clock.now += 0.25
        raise errors.pop(0)

    with pytest.raises(PermanentFailure) as failure:
        policy(clock, metrics).run("1", call)
    assert TOKEN not in failure.value.message
    assert "***" in failure.value.message
    assert registry.get_sample_value("telegram_errors_total", {"kind": "server_error"}) == 1
    assert registry.get_sample_value("telegram_errors_total", {"kind": "invalid_token"}) == 1
    assert registry.get_sample_value("telegram_request_duration_seconds_count") == 2
    assert registry.get_sample_value("telegram_request_duration_seconds_sum") == pytest.approx(0.5)


# -- the rate limiter ---------------------------------------------------------------------


def test_one_message_per_second_per_chat(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.acquire("a")
    limiter.acquire("b")
    assert clock.sleeps == []
    clock.now += 0.25
    limiter.acquire("a")
    assert clock.sleeps == [0.75]


def test_an_undelivered_message_does_not_count(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, global_rate=2)
    limiter.acquire("a")
    clock.now += 5
    slot = limiter.acquire("a")
    limiter.release(slot)
    assert limiter.delay("a", clock.now) == 0
    limiter.acquire("b")
    assert limiter.delay("c", clock.now) == 0  # the released slot left the global window too
    limiter.acquire("a")
    assert limiter.delay("a", clock.now) == 1.0


def test_thirty_messages_per_second_overall(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for chat in range(30):
        limiter.acquire(str(chat))
    assert clock.sleeps == []
    limiter.acquire("another")
    assert clock.sleeps == [1.0]


def test_the_global_window_slides(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, global_rate=2)
    limiter.acquire("a")
    clock.now += 0.5
    limiter.acquire("b")
    clock.now += 0.1
    limiter.acquire("c")  # waits until the first one is a second old
    assert clock.sleeps == [pytest.approx(0.4)]
    assert limiter.delay("d", clock.now) == pytest.approx(0.5)


def test_a_stop_interrupts_the_limiter(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=lambda seconds: True)
    limiter.acquire("a")
    bound = RetryPolicy(max_attempts=3, sleep=clock.sleep, limiter=limiter)
    with pytest.raises(TransientFailure, match="stopping") as failure:
        bound.run("a", lambda: None)
    assert failure.value.attempts == 0


# -- the limits under a batch's concurrent sends ------------------------------------------------


class LockedClock(FakeClock):
    """The fake clock, shared by threads: a sleep moves time on for everyone."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> bool:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(seconds, 0.0)
        return False


class RecordingLimiter(RateLimiter):
    def __init__(self, clock: LockedClock) -> None:
        super().__init__(clock=clock, sleep=clock.sleep)
        self.slots: list[Slot] = []

    def acquire(self, chat_id: str) -> Slot:
        slot = super().acquire(chat_id)
        self.slots.append(slot)
        return slot


def test_a_batch_sent_by_four_workers_keeps_both_telegram_limits() -> None:
    clock = LockedClock()
    limiter = RecordingLimiter(clock)
    policy = RetryPolicy(max_attempts=3, sleep=clock.sleep, clock=clock, limiter=limiter)

    class PolicySender:
        def send(self, chat_id: str, text: str) -> int:
            return policy.run(chat_id, lambda: None)

    # 40 chats with one message each and 4 chats with 10 each: 80 messages, far over 30/s.
    events = [alert_event(f"one-{n}", f"u{n}@example.com") for n in range(40)]
    events += [alert_event(f"many-{c}-{n}", f"busy{c}@example.com") for c in range(4) for n in range(10)]
    users: dict[str, str | None] = {f"u{n}@example.com": str(100 + n) for n in range(40)}
    users.update({f"busy{c}@example.com": str(900 + c) for c in range(4)})
    dispatcher = Dispatcher(workers=4)
    notifier = Notifier(
        store=FakeStore(),
        directory=FakeDirectory(users),
        sender=PolicySender(),
        admin_email="admin@example.com",
        metrics=NotifierMetrics(CollectorRegistry()),
        now=lambda: T0,
        dispatcher=dispatcher,
    )
    try:
        report = notifier.deliver_batch(events)
    finally:
        dispatcher.stop()
    assert report.counts["sent"] == 80 and not report.retry
    times = sorted(slot.at for slot in limiter.slots)
    assert len(times) == 80
    # Never more than 30 in any second: the 31st after any message is a second or more later.
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[30:], strict=False))
    per_chat: dict[str, list[float]] = {}
    for slot in limiter.slots:
        per_chat.setdefault(slot.chat_id, []).append(slot.at)
    for chat, at in per_chat.items():
        at.sort()
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(at)), chat
    assert clock.sleeps, "the limits were never reached: the test proves nothing"
