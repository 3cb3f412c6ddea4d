"""The bot's side of deep-link linking: /start parsing and answers, the getUpdates loop
(offsets, no spinning, prompt stop), the cached getMe and GET /telegram/bot."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import sessionmaker

from flightctl.services.alert_notifier import api
from flightctl.services.alert_notifier.linking import (
    BACKOFF,
    HELP,
    REPLIES,
    TRY_LATER,
    BotProfile,
    LinkBot,
    UpdatePoller,
    start_code,
)
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.telegram import IncomingText, TransientFailure
from flightctl.services.alert_notifier.users import EXPIRED, LINKED, TAKEN, UNKNOWN, LinkResult
from flightctl.services.common.errors import Unavailable
from flightctl.services.common.http import create_http_app
from tests.unit.alert_notifier.fakes import FakeClock

CODE = "AbC_123-xyzXYZ0987654321"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/start {CODE}", (True, CODE)),
        (f"  /start   {CODE}  ", (True, CODE)),
        (f"/start@flightctl_bot {CODE}", (True, CODE)),
        ("/start", (True, None)),
        ("/START", (True, None)),
        ("hello", (False, None)),
        ("/stop now", (False, None)),
        ("/startle x", (False, None)),
        (None, (False, None)),
    ],
)
def test_start_code(text: str | None, expected: tuple[bool, str | None]) -> None:
    assert start_code(text) == expected


class Recorder:
    def __init__(self, result: LinkResult | Exception) -> None:
        self.result = result
        self.calls: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []
        self.forgotten: list[str] = []

    def link(self, code: str, chat: str) -> LinkResult:
        self.calls.append((code, chat))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    def send(self, chat: str, text: str) -> int:
        self.sent.append((chat, text))
        return 1

    def bot(self) -> LinkBot:
        metrics = NotifierMetrics(CollectorRegistry())
        return LinkBot(link=self.link, send=self.send, metrics=metrics, linked=self.forgotten.append)


def message(text: str | None, chat: str | None = "4242", update_id: int = 7) -> IncomingText:
    return IncomingText(update_id=update_id, chat_id=chat, text=text)


def test_a_valid_code_links_the_chat_and_confirms_naming_the_email() -> None:
    rec = Recorder(LinkResult(LINKED, "ada<x>@example.com"))
    rec.bot().handle(message(f"/start {CODE}"))
    assert rec.calls == [(CODE, "4242")]
    [(chat, text)] = rec.sent
    assert chat == "4242"
    assert "ada&lt;x&gt;@example.com" in text and "linked" in text  # escaped for HTML
    assert rec.forgotten == ["ada<x>@example.com"]  # the chat cache forgets the old chat


@pytest.mark.parametrize(("outcome", "words"), [(UNKNOWN, "not valid"), (EXPIRED, "expired"), (TAKEN, "another")])
def test_a_refused_code_gets_a_polite_refusal(outcome: str, words: str) -> None:
    rec = Recorder(LinkResult(outcome))
    rec.bot().handle(message(f"/start {CODE}"))
    [(_, text)] = rec.sent
    assert text == REPLIES[outcome] and words in text and text.startswith("Sorry")
    assert rec.forgotten == []


def test_user_manager_down_asks_to_try_later() -> None:
    rec = Recorder(Unavailable("down"))
    rec.bot().handle(message(f"/start {CODE}"))
    assert rec.sent == [("4242", TRY_LATER)]


def test_start_without_code_explains_and_other_text_is_ignored() -> None:
    rec = Recorder(LinkResult(LINKED, "a@b.io"))
    bot = rec.bot()
    bot.handle(message("/start"))
    bot.handle(message("hi there"))
    bot.handle(message(None))
    bot.handle(message(f"/start {CODE}", chat=None))
    assert rec.sent == [("4242", HELP)]
    assert rec.calls == []


def test_an_undeliverable_answer_is_logged_not_raised() -> None:
    rec = Recorder(LinkResult(UNKNOWN))

    def failing(chat: str, text: str) -> int:
        raise TransientFailure("telegram down", 3)

    bot = LinkBot(link=rec.link, send=failing, metrics=NotifierMetrics(CollectorRegistry()))
    bot.handle(message(f"/start {CODE}"))  # no exception


def done(value: list[IncomingText]) -> concurrent.futures.Future[list[IncomingText]]:
    future: concurrent.futures.Future[list[IncomingText]] = concurrent.futures.Future()
    future.set_result(value)
    return future


def failed(exc: Exception) -> concurrent.futures.Future[list[IncomingText]]:
    future: concurrent.futures.Future[list[IncomingText]] = concurrent.futures.Future()
    future.set_exception(exc)
    return future


def test_the_poller_confirms_each_update_and_backs_off_on_errors_without_spinning() -> None:
    clock = FakeClock()
    offsets: list[int | None] = []
    timeouts: list[int] = []
    handled: list[int] = []
    script = [
        done([message("a", update_id=10), message("b", update_id=11)]),
        failed(OSError("connection refused")),
        failed(OSError("connection refused")),
        failed(OSError("connection refused")),
        done([message("c", update_id=12)]),
    ]
    poller: UpdatePoller

    def fetch(offset: int | None, timeout: int) -> concurrent.futures.Future[list[IncomingText]]:
        offsets.append(offset)
        timeouts.append(timeout)
        if not script:
            poller.stop()
            return done([])
        return script.pop(0)

    def handle(update: IncomingText) -> None:
        handled.append(update.update_id)
        if update.update_id == 11:
            raise RuntimeError("a broken update is skipped, not retried forever")

    poller = UpdatePoller(fetch=fetch, handle=handle, clock=clock, sleep=clock.sleep)
    poller.start()
    assert poller.join(timeout=5)
    assert not poller.is_alive()
    assert handled == [10, 11, 12]
    assert offsets == [None, 12, 12, 12, 12, 13, 13]
    # On the way out a zero-timeout poll confirms update 12 to Telegram (no repeat on restart).
    assert timeouts[-1] == 0 and all(t > 0 for t in timeouts[:-1])
    assert clock.sleeps[:3] == [1.0, 2.0, 4.0]  # growing pauses after failures
    assert BACKOFF.delay(10) == 30.0


def test_fast_empty_answers_are_spaced_out() -> None:
    clock = FakeClock()
    calls = 0
    poller: UpdatePoller

    def fetch(offset: int | None, timeout: int) -> concurrent.futures.Future[list[IncomingText]]:
        nonlocal calls
        calls += 1
        if calls == 4:
            poller.stop()
        return done([])  # a server that ignores the long-poll timeout

    poller = UpdatePoller(fetch=fetch, handle=lambda u: None, clock=clock, sleep=clock.sleep, min_interval=1.0)
    poller.start()
    assert poller.join(timeout=5)
    assert clock.sleeps == [1.0, 1.0, 1.0]  # one per empty answer before the stop


def test_stop_cancels_the_long_poll_in_flight() -> None:
    started = threading.Event()
    pending: concurrent.futures.Future[list[IncomingText]] = concurrent.futures.Future()

    def fetch(offset: int | None, timeout: int) -> concurrent.futures.Future[list[IncomingText]]:
        started.set()
        return pending  # never answers by itself

    poller = UpdatePoller(fetch=fetch, handle=lambda u: None, poll_timeout=60)
    poller.start()
    assert started.wait(5)
    began = time.monotonic()
    poller.stop()
    assert time.monotonic() - began < 2
    assert not poller.is_alive()
    assert pending.cancelled()


def test_the_bot_profile_is_cached_and_503_without_bot_or_telegram() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def username() -> str:
        calls.append(1)
        return "flight_bot"

    profile = BotProfile(username, clock=clock, ttl=60)
    assert profile.describe() == {"username": "flight_bot", "link_base": "https://t.me/flight_bot"}
    clock.sleep(30)
    profile.describe()
    assert len(calls) == 1
    clock.sleep(31)
    profile.describe()
    assert len(calls) == 2

    with pytest.raises(Unavailable, match="TELEGRAM_BOT_TOKEN"):
        BotProfile(None).describe()

    def unreachable() -> str:
        raise OSError("connection refused")

    with pytest.raises(Unavailable, match="Telegram"):
        BotProfile(unreachable).describe()


def test_get_telegram_bot_endpoint() -> None:
    def app_with(profile: BotProfile | None):  # type: ignore[no-untyped-def]
        app = create_http_app("alert-notifier", api_token="tkn", registry=CollectorRegistry(), health=dict)
        app.register_blueprint(api.blueprint(sessionmaker(), profile))
        return app.test_client()

    auth = {"Authorization": "Bearer tkn"}
    ok = app_with(BotProfile(lambda: "flight_bot")).get("/telegram/bot", headers=auth)
    assert ok.status_code == 200
    assert ok.get_json() == {"username": "flight_bot", "link_base": "https://t.me/flight_bot"}
    missing = app_with(None).get("/telegram/bot", headers=auth)
    assert missing.status_code == 503 and "TELEGRAM_BOT_TOKEN" in missing.get_json()["error"]
    assert app_with(None).get("/telegram/bot").status_code == 401


class MemoryOffsets:
    def __init__(self, stored: int | None) -> None:
        self.stored = stored
        self.saves: list[int] = []

    def load(self) -> int | None:
        return self.stored

    def save(self, next_offset: int) -> None:
        self.saves.append(next_offset)
        self.stored = next_offset


def test_only_the_leader_polls_and_it_starts_from_the_stored_offset() -> None:
    clock = FakeClock()
    offsets = MemoryOffsets(stored=40)
    leading = iter([False, False, True, True, False])  # takes over, polls twice, loses it
    asked_offsets: list[int | None] = []
    released: list[bool] = []
    handled: list[int] = []

    def leader() -> bool:
        try:
            return next(leading)
        except StopIteration:
            poller.stop()
            return False

    def fetch(offset: int | None, timeout: int) -> concurrent.futures.Future[list[IncomingText]]:
        asked_offsets.append(offset)
        return done([message("/start", update_id=40), message("hi", update_id=41)] if len(asked_offsets) == 1 else [])

    poller = UpdatePoller(
        fetch=fetch,
        handle=lambda u: handled.append(u.update_id),
        clock=clock,
        sleep=clock.sleep,
        leader=leader,
        release=lambda: released.append(True),
        offsets=offsets,
        leader_retry=5.0,
    )
    poller.start()
    assert poller.join(timeout=5)
    assert not poller.is_alive()
    # Two 5 s waits as a follower, then polls from the stored offset (not from None).
    assert clock.sleeps[:2] == [5.0, 5.0]
    assert asked_offsets[:2] == [40, 42]
    assert handled == [40, 41]
    assert offsets.saves == [41, 42]  # saved after each handled update
    assert poller.offset is None  # leadership lost: the next leader's offset comes from the store
    assert released == [True]


def test_a_failing_leadership_check_means_not_polling() -> None:
    clock = FakeClock()
    calls: list[int | None] = []

    def leader() -> bool:
        if len(clock.sleeps) >= 2:
            poller.stop()
        raise RuntimeError("database unreachable")

    def fetch(offset: int | None, timeout: int) -> concurrent.futures.Future[list[IncomingText]]:
        calls.append(offset)
        return done([])

    poller = UpdatePoller(fetch=fetch, handle=lambda u: None, clock=clock, sleep=clock.sleep, leader=leader)
    poller.start()
    assert poller.join(timeout=5)
    assert calls == [] and clock.sleeps == [5.0, 5.0, 5.0]
