"""Which Telegram chat a user's notifications go to: user-manager's ``GetUser`` over gRPC,
behind a short in-process cache; a batch's cache misses are fetched concurrently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from flightctl.services.common.emails import normalize_email
from flightctl.services.common.errors import Unavailable
from flightctl.services.common.grpcutil import DEFAULT_DEADLINE_SECONDS
from flightctl.services.common.pb import user_pb2, user_pb2_grpc

CACHE_TTL_SECONDS = 30.0
CACHE_MAX_ENTRIES = 10_000
FETCH_CONCURRENCY = 8
"""GetUser calls in flight at once for the cache misses of one batch."""
# A user-manager answer that means "there is no such user to notify"; any other error
# (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL...) is an outage and the event is retried.
_NO_SUCH_USER = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


@dataclass(frozen=True)
class UserInfo:
    email: str
    telegram_chat_id: str | None


Fetch = Callable[[str], UserInfo | None]
"""The user with this email, None when there is none; raises Unavailable on an outage."""


def grpc_fetch(stub: user_pb2_grpc.UserServiceStub, deadline: float = DEFAULT_DEADLINE_SECONDS) -> Fetch:
    def fetch(email: str) -> UserInfo | None:
        try:
            user = stub.GetUser(user_pb2.UserRequest(email=email), timeout=deadline)
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code in _NO_SUCH_USER:
                return None
            raise Unavailable(f"user-manager did not answer GetUser ({code.name})") from None
        return UserInfo(email=user.email or email, telegram_chat_id=user.telegram_chat_id.strip() or None)

    return fetch


class ChatDirectory:
    """``fetch`` with a TTL cache; answers "no such user" are cached too, outages are not."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = CACHE_TTL_SECONDS,
        max_entries: int = CACHE_MAX_ENTRIES,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._cache: dict[str, tuple[float, UserInfo | None]] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """How many answers the cache holds (at most ``max_entries``)."""
        with self._lock:
            return len(self._cache)

    def lookup(self, email: str) -> UserInfo | None:
        email = normalize_email(email)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(email)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        user = self._fetch(email)
        self._remember(email, user, now)
        return user

    def lookup_many(self, emails: Collection[str]) -> tuple[dict[str, UserInfo | None], dict[str, Exception]]:
        """:meth:`lookup` of each email, the cache misses fetched together (up to
        ``FETCH_CONCURRENCY`` at a time): (the answers; the emails whose fetch failed, with the
        error). Keys are the emails as given."""
        answers: dict[str, UserInfo | None] = {}
        failures: dict[str, Exception] = {}
        now = self._clock()
        misses: dict[str, list[str]] = {}
        with self._lock:
            for email in emails:
                key = normalize_email(email)
                hit = self._cache.get(key)
                if hit is not None and now - hit[0] < self._ttl:
                    answers[email] = hit[1]
                else:
                    misses.setdefault(key, []).append(email)
        if not misses:
            return answers, failures

        def fetch(key: str) -> UserInfo | Exception | None:
            try:
                return self._fetch(key)
            except Exception as exc:  # reported per email; the caller retries those events
                return exc

        if len(misses) == 1:
            fetched = {key: fetch(key) for key in misses}
        else:
            with ThreadPoolExecutor(min(FETCH_CONCURRENCY, len(misses)), thread_name_prefix="get-user") as pool:
                fetched = dict(zip(misses, pool.map(fetch, misses), strict=True))
        for key, answer in fetched.items():
            for email in misses[key]:
                if isinstance(answer, Exception):
                    failures[email] = answer
                else:
                    answers[email] = answer
            if not isinstance(answer, Exception):
                self._remember(key, answer, now)
        return answers, failures

    def _remember(self, email: str, user: UserInfo | None, now: float) -> None:
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache = {e: v for e, v in self._cache.items() if now - v[0] < self._ttl}
                if len(self._cache) >= self._max:
                    self._cache.clear()
            self._cache[email] = (now, user)

    def forget(self, email: str) -> None:
        with self._lock:
            self._cache.pop(normalize_email(email), None)


# -- linking a chat with a one-time code (deep link /start CODE) ------------------------------

LINKED, UNKNOWN, EXPIRED, TAKEN, INVALID = "linked", "unknown", "expired", "taken", "invalid"
_LINK_OUTCOMES = {
    grpc.StatusCode.NOT_FOUND: UNKNOWN,
    grpc.StatusCode.FAILED_PRECONDITION: EXPIRED,  # expired or already used
    grpc.StatusCode.ALREADY_EXISTS: TAKEN,
    grpc.StatusCode.INVALID_ARGUMENT: INVALID,
}


@dataclass(frozen=True)
class LinkResult:
    outcome: str  # linked, unknown, expired (or used), taken (chat of another user), invalid
    email: str | None = None


Link = Callable[[str, str], LinkResult]
"""Redeem (code, chat id); raises Unavailable when user-manager cannot answer."""


def grpc_link(stub: user_pb2_grpc.UserServiceStub, deadline: float = DEFAULT_DEADLINE_SECONDS) -> Link:
    def link(code: str, chat_id: str) -> LinkResult:
        request = user_pb2.LinkTelegramRequest(code=code, telegram_chat_id=chat_id)
        try:
            user = stub.LinkTelegram(request, timeout=deadline)
        except grpc.RpcError as exc:
            status = exc.code()  # type: ignore[attr-defined]
            outcome = _LINK_OUTCOMES.get(status)
            if outcome is None:
                raise Unavailable(f"user-manager did not answer LinkTelegram ({status.name})") from None
            return LinkResult(outcome)
        return LinkResult(LINKED, user.email)

    return link
