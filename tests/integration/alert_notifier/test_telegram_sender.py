"""The real sender (python-telegram-bot over HTTP) against the fake Telegram Bot API on
127.0.0.1. Waits are recorded, not slept: the clock moves forward by each recorded wait."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest

from flightctl.services.alert_notifier.events import AlertEvent
from flightctl.services.alert_notifier.telegram import (
    PermanentFailure,
    RateLimiter,
    RetryPolicy,
    TelegramSender,
    TransientFailure,
    redactor,
)
from flightctl.services.alert_notifier.text import alert_text
from tests.fakes.telegram import FakeTelegram, Fault, parse_html

CHAT = "424242"


class VirtualTime:
    """Real monotonic time plus every recorded wait."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.offset += seconds
        return False


@pytest.fixture(autouse=True)
def _timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    # make_bot() opts the process in; setting it here first keeps the test process unchanged after.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


def make_sender(
    fake: FakeTelegram, vtime: VirtualTime, *, token: str | None = None, attempts: int = 5
) -> TelegramSender:
    token = token or fake.token
    policy = RetryPolicy(
        max_attempts=attempts,
        sleep=vtime.sleep,
        clock=vtime.clock,
        limiter=RateLimiter(clock=vtime.clock, sleep=vtime.sleep),
        redact=redactor(token),
    )
    return TelegramSender(token=token, api_url=fake.api_url, policy=policy, timeout=5.0)


@pytest.fixture
def sender(fake: FakeTelegram, vtime: VirtualTime) -> Iterator[TelegramSender]:
    with make_sender(fake, vtime) as s:
        yield s


def alert() -> AlertEvent:
    return AlertEvent(
        event_id="e-1",
        user_email="ada@example.com",
        airport_code="LIRF",
        kind="high",
        flight_count=10,
        threshold=2,
        condition="The number of flights (10) exceeded the high threshold of 2 <& more>.",
        source="mock",
    )


def test_one_message_with_the_chat_id_and_html_text(fake: FakeTelegram, sender: TelegramSender) -> None:
    text = alert_text(alert())
    assert sender.send(CHAT, text) == 1
    assert fake.wait_for_messages(1, timeout=5)
    [message] = fake.messages
    assert (message.chat_id, message.text, message.parse_mode) == (CHAT, text, "HTML")
    assert parse_html(message.text).splitlines() == [
        "✈️ LIRF: too many flights",
        "The number of flights (10) exceeded the high threshold of 2 <& more>.",
        "(simulated data)",
    ]


def test_429_is_retried_after_retry_after_and_delivered_once(
    fake: FakeTelegram, sender: TelegramSender, vtime: VirtualTime
) -> None:
    fake.queue_faults(Fault(status=429, retry_after=1))
    assert sender.send(CHAT, "hello") == 2
    assert [a.status for a in fake.attempts] == [429, 200]
    assert len(fake.messages) == 1
    assert vtime.sleeps == [1.0]


def test_three_500s_back_off_and_deliver_once(fake: FakeTelegram, sender: TelegramSender, vtime: VirtualTime) -> None:
    fake.queue_faults(Fault(status=500), Fault(status=500), Fault(status=500))
    assert sender.send(CHAT, "hello") == 4
    assert [a.status for a in fake.attempts] == [500, 500, 500, 200]
    assert len(fake.messages) == 1
    assert vtime.sleeps == [0.5, 1.0, 2.0]


def test_a_dropped_connection_is_retried(fake: FakeTelegram, sender: TelegramSender) -> None:
    fake.queue_faults(Fault(down=True), Fault(status=502))
    assert sender.send(CHAT, "hello") == 3
    assert len(fake.messages) == 1


def test_a_blocked_bot_is_a_permanent_failure(fake: FakeTelegram, sender: TelegramSender) -> None:
    fake.queue_faults(Fault(status=403))
    with pytest.raises(PermanentFailure, match="blocked") as failure:
        sender.send(CHAT, "hello")
    assert failure.value.attempts == 1
    assert len(fake.attempts) == 1
    assert fake.messages == []


def test_unescaped_html_is_a_permanent_failure(fake: FakeTelegram, sender: TelegramSender) -> None:
    with pytest.raises(PermanentFailure, match="parse entities"):
        sender.send(CHAT, "<b>unclosed")
    assert fake.messages == []


def test_a_rejected_token_never_appears_in_the_error(fake: FakeTelegram, vtime: VirtualTime) -> None:
    token = "999999:WRONG-secret"
    with make_sender(fake, vtime, token=token) as s, pytest.raises(PermanentFailure) as failure:
        s.send(CHAT, "hello")
    assert token not in failure.value.message
    assert fake.messages == []


def test_telegram_down_at_start_then_back(fake: FakeTelegram, vtime: VirtualTime) -> None:
    fake.stop()  # start() binds the same port again
    with make_sender(fake, vtime, attempts=3) as s:
        with pytest.raises(TransientFailure) as failure:
            s.send(CHAT, "hello")
        assert failure.value.attempts == 3
        fake.start()
        assert s.send(CHAT, "hello") == 1
    assert [m.text for m in fake.messages] == ["hello"]


def test_the_bot_username_and_incoming_start_messages(fake: FakeTelegram, sender: TelegramSender) -> None:
    assert sender.username() == fake.username
    assert sender.get_updates(None, 0).result(timeout=5) == []
    first = fake.push_update(4242, "/start AbCdEfGhIjKlMnOpQrStUvWx")
    second = fake.push_update(-100777, "hello")
    updates = sender.get_updates(None, 1).result(timeout=5)
    assert [(u.update_id, u.chat_id, u.text) for u in updates] == [
        (first["update_id"], "4242", "/start AbCdEfGhIjKlMnOpQrStUvWx"),
        (second["update_id"], "-100777", "hello"),
    ]
    # The next offset confirms them: the long poll then waits and returns nothing.
    assert sender.get_updates(second["update_id"] + 1, 1).result(timeout=5) == []
    assert fake.pending_updates == []


def test_a_long_poll_in_flight_is_cancelled_at_once(fake: FakeTelegram, sender: TelegramSender) -> None:
    poll = sender.get_updates(None, 30)
    assert fake.wait_for_calls("getUpdates", 1, timeout=5)
    started = time.monotonic()
    poll.cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        poll.result(timeout=5)
    assert time.monotonic() - started < 2
