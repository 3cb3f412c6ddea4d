"""Telegram link codes (flightctl.services.user_manager.linking) over an in-memory SQLite copy of the
tables, with an injected clock: creation, one-time redemption, expiry, refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from flightctl.services.common.db import make_session_factory, transaction
from flightctl.services.common.errors import Conflict, InvalidInput, NotFound, Unprocessable
from flightctl.services.user_manager import linking
from flightctl.services.user_manager.models import TelegramLinkCode, User

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
TTL = timedelta(seconds=600)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    User.__table__.create(engine)  # type: ignore[attr-defined]
    TelegramLinkCode.__table__.create(engine)  # type: ignore[attr-defined]
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        s.add_all(
            [
                User(email="ada@example.com", first_name="Ada", last_name="Lovelace", created_at=T0),
                User(email="bob@example.com", first_name="Bob", last_name="B", telegram_chat_id="777", created_at=T0),
            ]
        )
    with factory() as s:
        yield s
    engine.dispose()


def make_code(session: Session, email: str = "ada@example.com", now: datetime = T0) -> str:
    return str(linking.create_link_code(session, {"email": email}, now=now, ttl=TTL)["code"])


def test_a_code_uses_the_start_parameter_alphabet_and_expires_after_the_ttl(session: Session) -> None:
    body = linking.create_link_code(session, {"email": " Ada@Example.com "}, now=T0, ttl=TTL)
    assert set(body) == {"email", "code", "expires_at"}
    assert body["email"] == "ada@example.com"
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,32}", body["code"])
    assert body["expires_at"] == "2026-03-01T09:40:15Z"
    [row] = session.scalars(select(TelegramLinkCode)).all()
    assert row.code_hash == linking.code_hash(body["code"]) != body["code"]  # only the hash is stored


def test_codes_are_unguessable_and_distinct(session: Session) -> None:
    codes = {linking.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", c) for c in codes)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, InvalidInput),
        ({"email": "not an email"}, InvalidInput),
        ({"email": 5}, InvalidInput),
        ({"email": "ada@example.com", "chat": "1"}, InvalidInput),
        ({"email": "nobody@example.com"}, NotFound),
    ],
)
def test_a_bad_request_for_a_code_is_refused(session: Session, payload: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        linking.create_link_code(session, payload, now=T0, ttl=TTL)


def test_redeeming_sets_the_chat_and_uses_the_code(session: Session) -> None:
    code = make_code(session)
    user = linking.redeem_link_code(session, code, "4242", now=T0 + timedelta(seconds=599))
    assert (user.email, user.telegram_chat_id) == ("ada@example.com", "4242")
    with pytest.raises(Unprocessable, match="already used"):
        linking.redeem_link_code(session, code, "4243", now=T0 + timedelta(seconds=10))
    assert session.get(User, "ada@example.com").telegram_chat_id == "4242"  # type: ignore[union-attr]


def test_an_expired_code_is_refused(session: Session) -> None:
    code = make_code(session)
    with pytest.raises(Unprocessable, match="expired"):
        linking.redeem_link_code(session, code, "4242", now=T0 + TTL)
    assert session.get(User, "ada@example.com").telegram_chat_id is None  # type: ignore[union-attr]


@pytest.mark.parametrize("code", ["", "short", "A" * 24, "x" * 33, "bad code with spaces!!"])
def test_an_unknown_code_is_not_found(session: Session, code: str) -> None:
    make_code(session)
    with pytest.raises(NotFound):
        linking.redeem_link_code(session, code, "4242", now=T0)


def test_a_chat_of_another_user_is_refused_and_the_code_stays_usable(session: Session) -> None:
    code = make_code(session)
    session.commit()
    with pytest.raises(Conflict):
        linking.redeem_link_code(session, code, "777", now=T0)
    session.rollback()  # as the transaction of the failed call does
    assert linking.redeem_link_code(session, code, "-100123", now=T0).telegram_chat_id == "-100123"


def test_a_bad_chat_id_is_invalid(session: Session) -> None:
    code = make_code(session)
    with pytest.raises(InvalidInput):
        linking.redeem_link_code(session, code, "12ab", now=T0)


def test_a_new_code_replaces_the_unused_ones(session: Session) -> None:
    first = make_code(session)
    second = make_code(session, now=T0 + timedelta(seconds=5))
    with pytest.raises(NotFound):
        linking.redeem_link_code(session, first, "4242", now=T0 + timedelta(seconds=6))
    assert linking.redeem_link_code(session, second, "4242", now=T0 + timedelta(seconds=6)).email == "ada@example.com"


def test_check_redeemable_with_a_naive_expiry_from_the_driver() -> None:
    row = TelegramLinkCode(code_hash="h", email="a@b.io", created_at=T0, expires_at=datetime(2026, 3, 1, 9, 40))
    linking.check_redeemable(row, datetime(2026, 3, 1, 9, 39, 59, tzinfo=UTC))
    with pytest.raises(Unprocessable):
        linking.check_redeemable(row, datetime(2026, 3, 1, 9, 40, tzinfo=UTC))


def test_the_ttl_setting() -> None:
    from flightctl.services.common.errors import ConfigError
    from flightctl.services.user_manager.settings import Settings

    base = {"DATABASE_URL": "postgresql+psycopg://u:p@127.0.0.1/user_manager", "DATA_COLLECTOR_GRPC_TARGET": "x:1"}
    assert Settings.from_env(base).telegram_link_ttl_seconds == 600
    assert Settings.from_env({**base, "TELEGRAM_LINK_TTL_SECONDS": "5"}).telegram_link_ttl_seconds == 5
    with pytest.raises(ConfigError, match="TELEGRAM_LINK_TTL_SECONDS"):
        Settings.from_env({**base, "TELEGRAM_LINK_TTL_SECONDS": "0"})
