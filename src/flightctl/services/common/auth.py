"""API tokens and their scopes: who may call what.

Two kinds of token open the HTTP APIs:

- the platform's bootstrap token (``API_TOKEN``), compared in constant time; it has the
  ``admin`` scope and changes only with the services' environment (a restart);
- scoped tokens, made and revoked at run time (``flightctl auth token create|revoke``). Their
  store is user-manager's database (table ``api_tokens``), which holds only the SHA-256 of each
  token; user-manager looks a token up there, every other service asks user-manager over gRPC
  (``UserService.AuthenticateToken``). Each process keeps an answer for
  :data:`CACHE_SECONDS`, so a revocation reaches every service within that time, and a new token
  works at once; no restart is needed for either.

A token is :data:`PREFIX` and 43 URL-safe characters (32 random bytes): a SHA-256 of that much
randomness cannot be reversed or guessed, so a slow, salted password hash (bcrypt, argon2) would
add nothing but a delay to every request, and its salt would make the look-up by digest
impossible. A look-up by digest also compares no secret byte by byte: what leaks through its
timing is about the digest, not the token.

The scopes nest: ``admin`` ⊃ ``write`` ⊃ ``read``. A request needs ``read`` for GET and HEAD,
``write`` for every other method, and ``admin`` where a route says so (:func:`requires`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

SCOPES = ("read", "write", "admin")
"""Weakest first: a scope allows everything the scopes before it allow."""
READ, WRITE, ADMIN = SCOPES
PREFIX = "fct_"
CACHE_SECONDS = 5.0
"""How long a process trusts an answer about a token (found, its scope, or unknown)."""
STALE_SECONDS = 300.0
"""While the token store cannot be asked, a known token's last answer is used for this long."""
BOOTSTRAP_ID = 0
"""The id reported for the bootstrap token (scoped tokens count from 1)."""

F = TypeVar("F", bound=Callable[..., Any])


def allows(scope: str, needed: str) -> bool:
    """Whether a token of ``scope`` may make a request that needs ``needed``."""
    return scope in SCOPES and SCOPES.index(scope) >= SCOPES.index(needed)


def check_scope(value: Any) -> str:
    if value not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    return str(value)


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The hex SHA-256 of a token: what the store keeps and what a look-up sends."""
    return hashlib.sha256(token.encode()).hexdigest()


def requires(scope: str) -> Callable[[F], F]:
    """Mark a view as needing ``scope`` (instead of read for GET and HEAD, write otherwise)."""
    check_scope(scope)

    def mark(view: F) -> F:
        view.required_scope = scope  # type: ignore[attr-defined]
        return view

    return mark


def needed_scope(method: str, view: Callable[..., Any] | None) -> str:
    marked = getattr(view, "required_scope", None)
    if marked is not None:
        return str(marked)
    return READ if method in ("GET", "HEAD", "OPTIONS") else WRITE


@dataclass(frozen=True)
class Principal:
    """Who a valid token is: its id (0: the bootstrap token) and its scope."""

    token_id: int
    scope: str


class StoreUnavailable(Exception):
    """The token store could not be asked (user-manager or its database is down)."""


Lookup = Callable[[str], Principal | None]
"""Looks a digest up in the store: the principal, None when unknown or revoked; raises
StoreUnavailable when the store cannot answer."""


class CachedLookup:
    """A :data:`Lookup` whose answers are kept :data:`CACHE_SECONDS`; while the store is
    unavailable, a known token's answer up to :data:`STALE_SECONDS` old is used. Thread-safe."""

    def __init__(
        self,
        lookup: Lookup,
        *,
        ttl: float = CACHE_SECONDS,
        stale: float = STALE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._stale = stale
        self._clock = clock
        self._max = max_entries
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[float, Principal | None]] = {}

    def __call__(self, token_digest: str) -> Principal | None:
        now = self._clock()
        with self._lock:
            cached = self._answers.get(token_digest)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            answer = self._lookup(token_digest)
        except StoreUnavailable:
            if cached is not None and cached[1] is not None and now - cached[0] < self._stale:
                return cached[1]
            raise
        with self._lock:
            if len(self._answers) >= self._max:  # unknown tokens sent in bulk: start over
                self._answers.clear()
            self._answers[token_digest] = (now, answer)
        return answer

    def forget(self, token_digest: str | None = None) -> None:
        """Drop one cached answer (or all): the next request asks the store."""
        with self._lock:
            if token_digest is None:
                self._answers.clear()
            else:
                self._answers.pop(token_digest, None)


class Authenticator:
    """Answers who a bearer token is: the bootstrap token (admin), a scoped token from the
    store, or nobody (None)."""

    def __init__(self, bootstrap: str | None, lookup: Lookup | None = None) -> None:
        self._bootstrap = bootstrap.encode() if bootstrap else None
        self._lookup = lookup

    @property
    def enabled(self) -> bool:
        """False when no bootstrap token is set: the API is open (local experiments only)."""
        return self._bootstrap is not None

    def authenticate(self, given: str) -> Principal | None:
        """Raises StoreUnavailable when only the store could tell and it cannot answer."""
        if self._bootstrap is not None and hmac.compare_digest(given.encode(), self._bootstrap):
            return Principal(BOOTSTRAP_ID, ADMIN)
        if self._lookup is None or not given.startswith(PREFIX):
            return None
        return self._lookup(digest(given))


__all__ = [
    "ADMIN",
    "BOOTSTRAP_ID",
    "CACHE_SECONDS",
    "PREFIX",
    "READ",
    "SCOPES",
    "STALE_SECONDS",
    "WRITE",
    "Authenticator",
    "CachedLookup",
    "Lookup",
    "Principal",
    "StoreUnavailable",
    "allows",
    "check_scope",
    "digest",
    "needed_scope",
    "new_token",
    "requires",
]
