"""Linking a Telegram chat by deep link on the running platform: user-manager issues a
one-time code, the fake Telegram delivers ``/start CODE`` to the bot's getUpdates, the notifier
redeems it over gRPC and answers in the chat."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest
from sqlalchemy import create_engine, update

from flightctl.platform.layout import Home
from flightctl.platform.proc import wait_until
from flightctl.services.common.pb import user_pb2, user_pb2_grpc
from flightctl.services.user_manager.linking import code_hash
from flightctl.services.user_manager.models import TelegramLinkCode
from tests.conftest import Platform
from tests.fakes.telegram import SentMessage
from tests.integration.pipeline.helpers import chat_messages, new_user


def link_code(platform: Platform, email: str) -> dict[str, str]:
    with platform.client("user-manager") as users:
        # An Idempotency-Key (the CLI sends one) is accepted and ignored.
        answer = users.post("/users/telegram/link", json={"email": email}, headers={"Idempotency-Key": "k-1"})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def new_chat() -> int:
    return random.randint(10**9, 10**10)


def answer_in(platform: Platform, chat: int, timeout: float = 15) -> SentMessage:
    assert wait_until(lambda: bool(chat_messages(platform, str(chat))), timeout=timeout), "the bot did not answer"
    [message] = chat_messages(platform, str(chat))
    return message


def chat_of(platform: Platform, email: str) -> str | None:
    with platform.client("user-manager") as users:
        return users.get(f"/users/{email}").json()["telegram_chat_id"]  # type: ignore[no-any-return]


def test_a_deep_link_links_the_chat_and_the_bot_confirms(platform: Platform) -> None:
    email, _ = new_user(platform, chat=False)
    issued = datetime.now(UTC)
    body = link_code(platform, email)
    assert set(body) == {"email", "code", "expires_at"} and body["email"] == email
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,32}", body["code"])
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires.utcoffset() == timedelta(0)
    assert abs((expires - issued) - timedelta(seconds=600)) < timedelta(seconds=30)

    chat = new_chat()
    platform.telegram.push_update(chat, f"/start {body['code']}")
    assert wait_until(lambda: chat_of(platform, email) == str(chat), timeout=15), "the chat was not linked"
    confirmation = answer_in(platform, chat)
    assert email in confirmation.text and "linked" in confirmation.text

    # The code is spent: another chat presenting it is refused, the link stays.
    other = new_chat()
    platform.telegram.push_update(other, f"/start {body['code']}")
    refusal = answer_in(platform, other)
    assert "already used" in refusal.text and email not in refusal.text
    assert chat_of(platform, email) == str(chat)


def test_unknown_and_expired_codes_are_refused_politely(platform: Platform) -> None:
    unknown_chat = new_chat()
    platform.telegram.push_update(unknown_chat, "/start " + "Z" * 24)
    assert "not valid" in answer_in(platform, unknown_chat).text

    email, _ = new_user(platform, chat=False)
    code = link_code(platform, email)["code"]
    engine = create_engine(platform.database_url("user-manager"))
    try:  # expire it: as if the TTL had passed
        with engine.begin() as connection:
            connection.execute(
                update(TelegramLinkCode)
                .where(TelegramLinkCode.code_hash == code_hash(code))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    expired_chat = new_chat()
    platform.telegram.push_update(expired_chat, f"/start {code}")
    assert "expired" in answer_in(platform, expired_chat).text
    assert chat_of(platform, email) is None


def test_the_link_endpoint_refuses_bad_requests(platform: Platform) -> None:
    with platform.client("user-manager") as users:
        for body in (b"not json", b"[]", b'{"email": 3}', b'{"email": "no-at-sign"}', b'{"email": "a@b.io", "x": 1}'):
            answer = users.post("/users/telegram/link", content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 400 and answer.json()["error"], body
        missing = users.post("/users/telegram/link", json={"email": f"nobody-{uuid.uuid4().hex[:6]}@example.com"})
        assert missing.status_code == 404 and "not found" in missing.json()["error"]
    anonymous = httpx.post(f"{platform.url('user-manager')}/users/telegram/link", json={"email": "a@b.io"})
    assert anonymous.status_code == 401


@pytest.fixture
def user_service(platform: Platform) -> user_pb2_grpc.UserServiceStub:
    state = Home(platform.home).load_state()
    assert state is not None
    channel = grpc.insecure_channel(f"127.0.0.1:{state.ports.grpc('user-manager')}")
    return user_pb2_grpc.UserServiceStub(channel)


def test_link_telegram_grpc_status_codes(platform: Platform, user_service: user_pb2_grpc.UserServiceStub) -> None:
    def call(code: str, chat: str) -> user_pb2.User:
        return user_service.LinkTelegram(user_pb2.LinkTelegramRequest(code=code, telegram_chat_id=chat), timeout=5)

    def status(code: str, chat: str) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as failure:
            call(code, chat)
        return failure.value.code()  # type: ignore[attr-defined,no-any-return]

    assert status("Q" * 24, str(new_chat())) == grpc.StatusCode.NOT_FOUND
    owner, taken = new_user(platform)
    email, _ = new_user(platform, chat=False)
    code = link_code(platform, email)["code"]
    assert taken is not None
    assert status(code, taken) == grpc.StatusCode.ALREADY_EXISTS  # the chat of another user
    assert status(code, "12x") == grpc.StatusCode.INVALID_ARGUMENT
    chat = str(new_chat())
    user = call(code, chat)  # refusals left the code usable
    assert (user.email, user.telegram_chat_id) == (email, chat)
    assert status(code, str(new_chat())) == grpc.StatusCode.FAILED_PRECONDITION  # used
    assert chat_of(platform, owner) == taken


def test_the_notifier_names_its_bot(platform: Platform) -> None:
    with platform.client("alert-notifier") as notifier:
        answer = notifier.get("/telegram/bot")
    assert answer.status_code == 200, answer.text
    username = platform.telegram.username
    assert answer.json() == {"username": username, "link_base": f"https://t.me/{username}"}
