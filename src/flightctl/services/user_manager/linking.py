"""Linking a Telegram chat without knowing its id: a one-time code, shown to the user as the
deep link ``https://t.me/<bot>?start=<code>``; Telegram then sends ``/start <code>`` from the
user's chat to the bot, and alert-notifier redeems the code (gRPC ``LinkTelegram``) with that
chat's id. Plain functions over a session, like service.py; the clock is passed in.

Codes are 24 characters of Telegram's start-parameter alphabet ``[A-Za-z0-9_-]`` (144 random
bits); only their SHA-256 is stored, so the table alone cannot be used to link a chat. A new
code replaces the user's unused ones.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.errors import Conflict, InvalidInput, NotFound, Unprocessable
from flightctl.services.user_manager import validation
from flightctl.services.user_manager.models import TelegramLinkCode, User

CODE_BYTES = 18  # base64url: 24 characters
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,32}")


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def iso_utc(value: datetime) -> str:
    """``2026-01-01T12:00:00Z``; a naive value (a driver that drops the zone) is taken as UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="seconds").replace("+00:00", "Z")


def check_redeemable(row: TelegramLinkCode, now: datetime) -> None:
    """Unprocessable (gRPC FAILED_PRECONDITION) when the code was used or has expired."""
    if row.used_at is not None:
        raise Unprocessable("this link code was already used")
    expires = row.expires_at if row.expires_at.tzinfo is not None else row.expires_at.replace(tzinfo=UTC)
    if now >= expires:
        raise Unprocessable("this link code has expired")


def create_link_code(
    session: Session,
    payload: dict[str, Any],
    *,
    now: datetime,
    ttl: timedelta,
    generate: Callable[[], str] = new_code,
) -> dict[str, Any]:
    """A new code for the user named by ``payload["email"]``; the user's unused codes go."""
    unknown = set(payload) - {"email"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    email = validation.email(payload.get("email"))
    if session.get(User, email, with_for_update=True) is None:
        raise NotFound(f"user {email} not found")
    code = generate()
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError("a link code must be 16 to 32 characters of [A-Za-z0-9_-]")
    expires_at = (now + ttl).replace(microsecond=0)
    session.execute(delete(TelegramLinkCode).where(TelegramLinkCode.email == email, TelegramLinkCode.used_at.is_(None)))
    session.add(TelegramLinkCode(code_hash=code_hash(code), email=email, created_at=now, expires_at=expires_at))
    session.flush()
    return {"email": email, "code": code, "expires_at": iso_utc(expires_at)}


def redeem_link_code(session: Session, code: str, raw_chat_id: Any, *, now: datetime) -> User:
    """Set the chat id of the code's user and mark the code used, in the caller's transaction.

    NotFound: no such code; Unprocessable: expired or used; Conflict: the chat is linked to
    another user (nothing changes then, the code stays usable); InvalidInput: a bad chat id.
    """
    chat = validation.chat_id(raw_chat_id)
    code = (code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise NotFound("unknown link code")
    row = session.get(TelegramLinkCode, code_hash(code), with_for_update=True)
    if row is None:
        raise NotFound("unknown link code")
    check_redeemable(row, now)
    user = session.get(User, row.email, with_for_update=True)
    if user is None:  # the foreign key deletes a deleted user's codes; kept for safety
        raise NotFound("unknown link code")
    other = session.scalar(select(User.email).where(User.telegram_chat_id == chat, User.email != user.email))
    if other is not None:
        raise Conflict("this Telegram chat is already linked to another user")
    user.telegram_chat_id = chat
    row.used_at = now
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("this Telegram chat is already linked to another user") from None
    return user


def purge_link_codes(factory: sessionmaker[Session], before: datetime) -> int:
    """Delete codes that expired before ``before`` (kept a while so a late click is told the
    code expired rather than that it is unknown)."""
    with factory() as session, session.begin():
        result = session.execute(delete(TelegramLinkCode).where(TelegramLinkCode.expires_at < before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
