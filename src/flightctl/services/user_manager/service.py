"""user-manager's logic: plain functions over a SQLAlchemy session; no Flask, gRPC or Kafka."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import Reads
from flightctl.services.common.errors import Conflict, InvalidInput, NotFound
from flightctl.services.user_manager import validation
from flightctl.services.user_manager.models import InterestDeletion, User

log = logging.getLogger(__name__)


def user_view(user: User, *, masked: bool) -> dict[str, Any]:
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "tax_code": validation.mask(user.tax_code) if masked else user.tax_code,
        "iban": validation.mask(user.iban) if masked else user.iban,
        "telegram_chat_id": user.telegram_chat_id,
    }


def create_user(session: Session, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    unknown = set(payload) - {"email", "first_name", "last_name", "tax_code", "iban"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = {
        "email": validation.email(payload.get("email")),
        "first_name": validation.name(payload.get("first_name"), "first_name"),
        "last_name": validation.name(payload.get("last_name"), "last_name"),
        "tax_code": validation.tax_code(payload.get("tax_code")),
        "iban": validation.iban(payload.get("iban")),
    }
    # ON CONFLICT DO NOTHING (on the email and the tax code alike): an existing user is an
    # expected answer (409), not a failed statement in PostgreSQL's log.
    created = session.scalar(insert(User).values(**values).on_conflict_do_nothing().returning(User.email))
    if created is None:
        raise Conflict("a user with this email or tax code already exists")
    return 201, {"message": "User created successfully"}


def delete_user(session: Session, raw_email: str, now: datetime) -> tuple[int, dict[str, Any]]:
    """Delete the user and, in the same transaction, queue the removal of their interests."""
    email = validation.email(raw_email)
    deleted = session.execute(delete(User).where(User.email == email)).rowcount  # type: ignore[attr-defined]
    if not deleted:
        raise NotFound(f"user {email} not found")
    session.add(InterestDeletion(email=email, attempts=0, created_at=now, next_attempt_at=now))
    return 200, {"message": "User deleted successfully"}


def list_users(session: Session) -> list[dict[str, Any]]:
    users = session.scalars(select(User).order_by(User.created_at, User.email))
    return [user_view(u, masked=True) for u in users]


_USER_VIEW = select(User.email, User.first_name, User.last_name, User.tax_code, User.iban, User.telegram_chat_id).where(
    User.email == bindparam("email", type_=String)
)
"""Built once: the same SQL text every time, which psycopg prepares."""


def find_user(reads: Reads, raw_email: str) -> dict[str, Any]:
    """The user's unmasked view, read with one prebuilt statement (no ORM object); NotFound."""
    email = validation.email(raw_email)
    row = reads.first(_USER_VIEW, {"email": email})
    if row is None:
        raise NotFound(f"user {email} not found")
    return row


def get_user(session: Session, raw_email: str) -> User:
    email = validation.email(raw_email)
    user = session.get(User, email)
    if user is None:
        raise NotFound(f"user {email} not found")
    return user


def link_telegram(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    email = validation.email(payload.get("email"))
    chat = validation.chat_id(payload.get("telegram_chat_id"))
    user = session.get(User, email, with_for_update=True)
    if user is None:
        raise NotFound(f"user {email} not found")
    other = session.scalar(select(User.email).where(User.telegram_chat_id == chat, User.email != email))
    if other is not None:
        raise Conflict("this Telegram chat id is already linked to another user")
    user.telegram_chat_id = chat
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("this Telegram chat id is already linked to another user") from None
    return {"message": "Telegram chat id linked", "email": email, "telegram_chat_id": chat}


_USER_EXISTS = select(User.email).where(User.email == bindparam("email", type_=String))
"""Built once, like _USER_VIEW: prepared by psycopg on each read connection."""


def user_known(reads: Reads, raw_email: str) -> bool:
    """Whether the user exists (False for an invalid email): one prepared statement on an
    autocommit connection, no transaction. data-collector asks it for every new interest, and
    the session's BEGIN, SELECT and ROLLBACK were three round trips where one does."""
    try:
        email = validation.email(raw_email)
    except InvalidInput:
        return False
    return reads.first(_USER_EXISTS, {"email": email}) is not None


def user_exists(session: Session, raw_email: str) -> bool:
    try:
        email = validation.email(raw_email)
    except InvalidInput:
        return False
    return session.get(User, email) is not None


def outbox_backlog(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(InterestDeletion)) or 0)


def drain_outbox(
    factory: sessionmaker[Session],
    remove_interests: Callable[[str], int],
    now: Callable[[], datetime],
    retry_after: timedelta,
    batch: int = 20,
) -> tuple[int, int]:
    """Try every due interest deletion once; returns (done, still pending).

    Rows are claimed with SKIP LOCKED, so several user-manager replicas drain in parallel
    without doing the same row twice.
    """
    done = failed = 0
    with factory() as session, session.begin():
        rows = session.scalars(
            select(InterestDeletion)
            .where(InterestDeletion.next_attempt_at <= now())
            .order_by(InterestDeletion.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            try:
                count = remove_interests(row.email)
            except Exception as exc:  # any failure of the remote call: keep the row, retry later
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                row.next_attempt_at = now() + retry_after
                failed += 1
                continue
            log.info("removed %d interest(s) of a deleted user (outbox id %d)", count, row.id)
            session.delete(row)
            done += 1
    if failed:
        log.warning("interest removal pending for %d deleted user(s); data-collector unreachable", failed)
    return done, failed
