"""A batch of events through the notifier, with the in-memory store, directory and sender:
one read and one write for everything that sends nothing, lookups once per user, sends
grouped by chat, and each event handled exactly once whatever fails or crashes mid-batch."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from flightctl.services.alert_notifier.events import AlertEvent
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.service import (
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    DeliveryBusy,
    DeliveryPending,
    DeliveryRecord,
    Dispatcher,
    Notifier,
)
from flightctl.services.alert_notifier.telegram import PermanentFailure, RateLimiter, RetryPolicy, TransientFailure
from flightctl.services.common.errors import Unavailable
from tests.unit.alert_notifier.fakes import T0, FakeClock, FakeDirectory, FakeSender, FakeStore

USERS: dict[str, str | None] = {
    "ada@example.com": "1001",
    "bob@example.com": "1002",
    "cy@example.com": None,  # no chat
}


def alert(event_id: str, email: str = "ada@example.com", airport: str = "LIRF") -> AlertEvent:
    return AlertEvent(
        event_id=event_id,
        user_email=email,
        airport_code=airport,
        kind="high",
        flight_count=10,
        threshold=2,
        condition=None,
        source="opensky",
    )


class World:
    def __init__(
        self,
        sender: Any = None,
        *,
        no_token: bool = False,
        failing: tuple[str, ...] = (),
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = FakeStore()
        self.directory = FakeDirectory(dict(USERS), failing=failing)
        self.sender = None if no_token else (sender or FakeSender())
        self.registry = CollectorRegistry()
        self.notifier = Notifier(
            store=self.store,
            directory=self.directory,
            sender=self.sender,
            admin_email="admin@example.com",
            metrics=NotifierMetrics(self.registry),
            now=lambda: T0,
            dispatcher=dispatcher,
        )

    def count(self, status: str) -> float:
        return self.registry.get_sample_value("notifications_total", {"kind": "alert", "status": status}) or 0


def test_a_mixed_batch_reads_once_writes_the_skipped_once_and_looks_each_user_up_once() -> None:
    w = World()
    w.store.rows["old"] = DeliveryRecord(
        event_id="old", kind="alert", user_email="ada@example.com", text="t", created_at=T0, status=SENT
    )
    batch = [
        alert("a1"),
        alert("old"),  # already delivered
        alert("c1", "cy@example.com"),  # no chat id
        alert("b1", "bob@example.com"),
        alert("x1", "nobody@example.com"),  # no such user
        alert("a2", airport="LIMC"),
        alert("c2", "cy@example.com"),
    ]
    report = w.notifier.deliver_batch(batch)
    assert w.store.reads == 1
    assert w.store.writes == [["c1", "c2", "x1"]]  # every skipped delivery in one write
    assert sorted(w.directory.lookups) == ["ada@example.com", "bob@example.com", "cy@example.com", "nobody@example.com"]
    assert w.sender is not None
    sent = [(chat, "LIMC" in text) for chat, text in w.sender.sent]
    assert sent == [("1001", False), ("1002", False), ("1001", True)]  # round by round; a chat's in order
    assert {e: r.status for e, r in report.outcomes.items()} == {
        "a1": SENT,
        "a2": SENT,
        "b1": SENT,
        "old": SENT,
        "c1": SKIPPED,
        "c2": SKIPPED,
        "x1": SKIPPED,
    }
    assert report.retry == {}
    assert dict(report.counts) == {"sent": 3, "duplicate": 1, "skipped": 3}
    assert (w.count("sent"), w.count("skipped"), w.count("duplicate")) == (3, 3, 1)
    assert w.registry.get_sample_value("notifications_skipped_total", {"reason": "no_chat_id"}) == 2
    assert w.registry.get_sample_value("notifications_skipped_total", {"reason": "user_not_found"}) == 1


def test_without_a_token_a_batch_is_one_read_and_one_write_and_no_lookup() -> None:
    w = World(no_token=True)
    report = w.notifier.deliver_batch([alert(f"e{n}", f"u{n}@example.com") for n in range(50)])
    assert (w.store.reads, len(w.store.writes), w.store.claims) == (1, 1, 0)
    assert w.directory.lookups == []
    assert dict(report.counts) == {"skipped": 50}
    assert {r.last_error for r in w.store.rows.values()} == {"TELEGRAM_BOT_TOKEN is not set"}


def test_an_event_twice_in_one_batch_is_handled_once() -> None:
    w = World()
    report = w.notifier.deliver_batch([alert("a1"), alert("a1"), alert("a2")])
    assert w.sender is not None and len(w.sender.sent) == 2
    assert dict(report.counts) == {"sent": 2}


def test_a_user_manager_outage_retries_only_that_users_events_and_records_nothing_for_them() -> None:
    w = World(failing=("bob@example.com",))
    report = w.notifier.deliver_batch([alert("a1"), alert("b1", "bob@example.com"), alert("c1", "cy@example.com")])
    assert set(report.retry) == {"b1"} and isinstance(report.retry["b1"], Unavailable)
    assert "b1" not in w.store.rows
    assert (w.store.rows["a1"].status, w.store.rows["c1"].status) == (SENT, SKIPPED)


def test_telegram_unreachable_keeps_that_row_pending_and_sends_nothing_more_in_this_batch() -> None:
    w = World(FakeSender(TransientFailure("Internal Server Error", 5)))
    batch = [alert("a1"), alert("a2", airport="LIMC"), alert("c1", "cy@example.com")]
    report = w.notifier.deliver_batch(batch)
    assert set(report.retry) == {"a1", "a2"}
    assert isinstance(report.retry["a2"], DeliveryPending)
    assert (w.store.rows["a1"].status, w.store.rows["a1"].attempts) == (PENDING, 5)
    assert "a2" not in w.store.rows  # never attempted: nothing recorded
    assert w.store.rows["c1"].status == SKIPPED  # what needs no message is not held back
    assert w.sender is not None and w.sender.calls == 1

    again = w.notifier.deliver_batch(batch)  # the runner's retry
    assert again.retry == {}
    assert (w.store.rows["a1"].status, w.store.rows["a1"].attempts) == (SENT, 6)
    assert [e for e, r in again.outcomes.items() if r.status == SENT] == ["a1", "a2"]
    assert again.counts["duplicate"] == 1  # c1


def test_a_refusal_is_final_and_the_rest_of_the_batch_is_sent() -> None:
    w = World(FakeSender(PermanentFailure("Forbidden: bot was blocked by the user", 1)))
    report = w.notifier.deliver_batch([alert("a1"), alert("b1", "bob@example.com")])
    assert (report.outcomes["a1"].status, report.outcomes["b1"].status) == (FAILED, SENT)
    assert report.retry == {}


def test_an_event_another_consumer_is_sending_is_retried() -> None:
    w = World()
    w.store.busy.add("a1")
    report = w.notifier.deliver_batch([alert("a1"), alert("b1", "bob@example.com")])
    assert isinstance(report.retry["a1"], DeliveryBusy)
    assert report.outcomes["b1"].status == SENT


class Crash(BaseException):
    """Stands for SIGKILL: nothing after it runs (not even the claim's save)."""


class CrashingSender(FakeSender):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.crashed = False

    def send(self, chat_id: str, text: str) -> int:
        if not self.crashed and self.calls + 1 == self.at:
            self.crashed = True
            self.calls += 1
            raise Crash
        return super().send(chat_id, text)


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_crash_mid_batch_then_the_redelivered_batch_sends_each_message_once(at: int) -> None:
    sender = CrashingSender(at)
    w = World(sender)
    batch = [alert("a1"), alert("b1", "bob@example.com"), alert("a2", airport="LIMC"), alert("c1", "cy@example.com")]
    with pytest.raises(Crash):
        w.notifier.deliver_batch(batch)
    assert len(sender.sent) == at - 1  # the sends before the crash went out and were recorded
    report = w.notifier.deliver_batch(batch)  # the offsets were not committed: all of it again
    assert report.retry == {}
    assert sorted(text for _, text in sender.sent) == sorted(w.store.rows[e].text for e in ("a1", "b1", "a2"))
    assert {e: r.status for e, r in w.store.rows.items()} == {"a1": SENT, "b1": SENT, "a2": SENT, "c1": SKIPPED}


def test_sends_go_in_rounds_so_a_chats_pause_never_holds_the_others() -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=1, sleep=clock.sleep, clock=clock, limiter=RateLimiter(clock=clock, sleep=clock.sleep)
    )
    sent: list[tuple[str, float]] = []

    class PacedSender:
        def send(self, chat_id: str, text: str) -> int:
            return policy.run(chat_id, lambda: sent.append((chat_id, clock.now)))

    w = World(PacedSender())
    users = ["ada@example.com", "bob@example.com", "ada@example.com", "bob@example.com", "ada@example.com"]
    w.notifier.deliver_batch([alert(f"e{n}", email, airport=f"L{n:03d}") for n, email in enumerate(users)])
    start = sent[0][1]
    assert [(chat, at - start) for chat, at in sent] == [
        ("1001", 0.0),
        ("1002", 0.0),
        ("1001", 1.0),  # one second after the chat's first: the only pauses are the chats' own
        ("1002", 1.0),
        ("1001", 2.0),
    ]


def test_the_dispatcher_runs_tasks_concurrently() -> None:
    dispatcher = Dispatcher(workers=4)
    started = threading.Barrier(3, timeout=10)  # three chats must be in flight together
    order: dict[str, list[int]] = {}
    lock = threading.Lock()

    def chat(name: str) -> Any:
        def run() -> None:
            started.wait()
            for n in range(5):
                with lock:
                    order.setdefault(name, []).append(n)

        return run

    try:
        dispatcher.run([chat("a"), chat("b"), chat("c")])
    finally:
        dispatcher.stop()
    assert order == {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 3, 4], "c": [0, 1, 2, 3, 4]}


def test_the_dispatcher_waits_for_every_task_then_raises_the_first_error() -> None:
    dispatcher = Dispatcher(workers=2)
    done: list[str] = []

    def fails() -> None:
        raise RuntimeError("database away")

    try:
        with pytest.raises(RuntimeError, match="database away"):
            dispatcher.run([fails, lambda: done.append("other")])
    finally:
        dispatcher.stop()
    assert done == ["other"]
