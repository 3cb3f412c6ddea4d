"""Chat lookup: the gRPC answer mapping and the 30-second cache."""

from __future__ import annotations

import threading
from typing import Any

import grpc
import pytest

from flightctl.services.alert_notifier.users import ChatDirectory, UserInfo, grpc_fetch
from flightctl.services.common.errors import Unavailable
from flightctl.services.common.grpcutil import DEFAULT_DEADLINE_SECONDS
from flightctl.services.common.pb import user_pb2
from tests.unit.alert_notifier.fakes import FakeClock


class RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code.name)
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


class FakeStub:
    def __init__(self, answer: user_pb2.User | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, Any]] = []

    def GetUser(self, request: user_pb2.UserRequest, timeout: float | None = None) -> user_pb2.User:
        self.calls.append((request.email, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_user_with_a_chat() -> None:
    stub = FakeStub(user_pb2.User(email="a@x.io", telegram_chat_id=" 42 "))
    assert grpc_fetch(stub)("a@x.io") == UserInfo("a@x.io", "42")  # type: ignore[arg-type]
    assert stub.calls == [("a@x.io", DEFAULT_DEADLINE_SECONDS)]


def test_an_empty_chat_id_is_none() -> None:
    stub = FakeStub(user_pb2.User(email="a@x.io", telegram_chat_id=""))
    assert grpc_fetch(stub)("a@x.io") == UserInfo("a@x.io", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT])
def test_no_such_user(code: grpc.StatusCode) -> None:
    assert grpc_fetch(FakeStub(RpcError(code)))("a@x.io") is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL]
)
def test_an_outage_raises(code: grpc.StatusCode) -> None:
    with pytest.raises(Unavailable, match=code.name):
        grpc_fetch(FakeStub(RpcError(code)))("a@x.io")  # type: ignore[arg-type]


class CountingFetch:
    def __init__(self, *answers: UserInfo | Exception | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, email: str) -> UserInfo | None:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_answers_are_cached_for_thirty_seconds() -> None:
    clock = FakeClock()
    fetch = CountingFetch(UserInfo("a", "1"), UserInfo("a", "2"))
    directory = ChatDirectory(fetch, clock=clock)
    assert directory.lookup("a") == UserInfo("a", "1")
    clock.now += 29
    assert directory.lookup("a") == UserInfo("a", "1")
    assert fetch.calls == 1
    clock.now += 1
    assert directory.lookup("a") == UserInfo("a", "2")
    assert fetch.calls == 2


def test_unknown_users_are_cached_and_outages_are_not() -> None:
    clock = FakeClock()
    fetch = CountingFetch(Unavailable("down"), None)
    directory = ChatDirectory(fetch, clock=clock)
    with pytest.raises(Unavailable):
        directory.lookup("a")
    assert directory.lookup("a") is None
    assert directory.lookup("a") is None
    assert fetch.calls == 2


def test_the_cache_is_bounded() -> None:
    clock = FakeClock()
    directory = ChatDirectory(lambda email: UserInfo(email, "1"), clock=clock, max_entries=3)
    for n in range(10):
        directory.lookup(f"u{n}")
    assert 0 < directory.size <= 3


def test_a_batch_of_lookups_fetches_only_the_misses_and_all_of_them_together() -> None:
    clock = FakeClock()
    together = threading.Barrier(3, timeout=10)  # the three misses are in flight at once
    calls: list[str] = []

    def fetch(email: str) -> UserInfo | None:
        calls.append(email)
        if email == "cached@x.io":
            return UserInfo(email, "1")
        together.wait()
        return None if email == "ghost@x.io" else UserInfo(email, "7")

    directory = ChatDirectory(fetch, clock=clock)
    directory.lookup("cached@x.io")
    calls.clear()
    answers, failures = directory.lookup_many(["A@x.io", "b@x.io", "ghost@x.io", "cached@x.io"])
    assert failures == {}
    assert answers == {
        "A@x.io": UserInfo("a@x.io", "7"),
        "b@x.io": UserInfo("b@x.io", "7"),
        "ghost@x.io": None,
        "cached@x.io": UserInfo("cached@x.io", "1"),
    }
    assert sorted(calls) == ["a@x.io", "b@x.io", "ghost@x.io"]
    calls.clear()
    assert directory.lookup_many(["a@x.io", "ghost@x.io"])[0]["ghost@x.io"] is None  # both answers cached now
    assert calls == []


def test_a_failed_fetch_is_reported_for_that_email_only_and_not_cached() -> None:
    fetch = CountingFetch(Unavailable("down"), UserInfo("a", "1"))
    directory = ChatDirectory(fetch, clock=FakeClock())
    answers, failures = directory.lookup_many(["a"])
    assert answers == {} and isinstance(failures["a"], Unavailable)
    assert directory.lookup_many(["a"]) == ({"a": UserInfo("a", "1")}, {})
    assert fetch.calls == 2
