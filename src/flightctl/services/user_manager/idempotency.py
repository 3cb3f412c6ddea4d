"""At-most-once execution of a mutating request under an ``Idempotency-Key``.

Everything happens in one transaction: a transaction-scoped advisory lock on the key (held
while the first request runs, so a concurrent one gets 409), the look-up of a completed key
(replayed, or 422 when the method, path or body differ), the change itself, and the stored
outcome. An unexpected error or a 5xx outcome rolls all of it back: no key is ever left
"in progress", and a retry runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.errors import Conflict, DomainError, InvalidInput, Unprocessable
from flightctl.services.user_manager.models import IdempotencyKey

KEY_MAX = 255


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def check_key(key: str | None) -> str:
    if key is None or key == "":
        raise InvalidInput("the Idempotency-Key header is required for this request")
    if len(key) > KEY_MAX or not key.isprintable() or not key.isascii():
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable ASCII characters")
    return key


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def execute(
    factory: sessionmaker[Session],
    *,
    key: str,
    method: str,
    path: str,
    body: Any,
    ttl: timedelta,
    now: Callable[[], datetime],
    action: Callable[[Session], tuple[int, dict[str, Any]]],
) -> Outcome:
    """Run ``action`` at most once for ``key``; it returns (status, body) or raises DomainError."""
    digest = fingerprint(method, path, body)
    with factory() as session, session.begin():
        locked = session.execute(select(func.pg_try_advisory_xact_lock(func.hashtextextended(key, 0)))).scalar()
        if not locked:
            raise Conflict("a request with this Idempotency-Key is still being processed; retry later")
        stored = session.get(IdempotencyKey, key)
        current = now()
        if stored is not None and stored.expires_at <= current:
            session.delete(stored)
            session.flush()
            stored = None
        if stored is not None:
            if stored.fingerprint != digest:
                raise Unprocessable(
                    "this Idempotency-Key was already used for a different request "
                    f"({stored.method} {stored.path} with another body)"
                )
            return Outcome(stored.response_code, json.loads(stored.response_body), replayed=True)
        try:
            with session.begin_nested():
                status, payload = action(session)
        except DomainError as exc:
            if exc.http_status >= 500:
                raise  # not stored: the whole transaction rolls back and a retry runs again
            status, payload = exc.http_status, {"error": exc.message}
        session.add(
            IdempotencyKey(
                key=key,
                fingerprint=digest,
                method=method.upper(),
                path=path,
                response_code=status,
                response_body=json.dumps(payload),
                created_at=current,
                expires_at=current + ttl,
            )
        )
        return Outcome(status, payload)


def purge_expired(factory: sessionmaker[Session], now: datetime) -> int:
    with factory() as session, session.begin():
        result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
