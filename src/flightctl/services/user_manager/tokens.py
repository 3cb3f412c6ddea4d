"""The store of scoped API tokens (flightctl.services.common.auth): create (the token is shown
once and only its SHA-256 is kept), list (never a token), revoke, and the look-up every
service's authentication asks (over gRPC, or directly in user-manager)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flightctl.services.common import auth
from flightctl.services.common.errors import InvalidInput, NotFound
from flightctl.services.user_manager.models import ApiToken

NAME_MAX = 100
LAST_USED_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token (a look-up is not a write)."""
DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_ID = 2**31 - 1
"""The largest id the column holds: a larger one in a path is simply not found."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def token_view(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scope": row.scope,
        "created_at": _iso(row.created_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked": row.revoked_at is not None,
        "revoked_at": _iso(row.revoked_at),
    }


def create_token(session: Session, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new token of the payload's ``scope`` and optional ``name``; the answer is the only
    place the token itself ever appears."""
    unknown = set(payload) - {"scope", "name"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        scope = auth.check_scope(payload.get("scope"))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    name = payload.get("name")
    if name is None:
        name = f"{scope} token"
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX or not name.isprintable():
        raise InvalidInput(f"name must be 1 to {NAME_MAX} printable characters")
    token = auth.new_token()
    row = ApiToken(name=name.strip(), scope=scope, token_sha256=auth.digest(token), created_at=now)
    session.add(row)
    session.flush()
    return {**token_view(row), "token": token}


def list_tokens(session: Session) -> list[dict[str, Any]]:
    return [token_view(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(session: Session, token_id: int, now: datetime) -> dict[str, Any]:
    """Revoke a token (again: no change). Every service refuses it within auth.CACHE_SECONDS."""
    row = session.get(ApiToken, token_id, with_for_update=True) if 0 < token_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return {"message": "API token revoked", **token_view(row)}


def authenticate(session: Session, token_digest: str, now: datetime) -> auth.Principal | None:
    """The principal of an unrevoked token with this SHA-256 (hex), else None; notes its use."""
    if not DIGEST.fullmatch(token_digest):
        return None
    row = session.execute(
        select(ApiToken.id, ApiToken.scope, ApiToken.last_used_at).where(
            ApiToken.token_sha256 == token_digest, ApiToken.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return auth.Principal(row.id, row.scope)
