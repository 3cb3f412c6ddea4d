"""What to do with a batch of events: drop those already handled, find the users' chats,
record every delivery that needs no message (skipped) at once, send the others within
Telegram's limits, record each outcome. Plain logic: the store, the user directory, the sender
and the dispatcher that runs sends concurrently are injected (Kafka and SQL live elsewhere).

Only a message sent holds anything up: a lookup answer is cached and the misses of a batch
are fetched together, duplicates and skipped deliveries are one read and one write per batch.
Each send claims its event's row on its own (inserted once, locked while it sends, outcome
written in that transaction), so two consumers never both send an event and a crash loses at
most the outcome of the sends in flight, as with one event at a time."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from flightctl.services.alert_notifier.events import AlertEvent, Event
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.telegram import PermanentFailure, TransientFailure
from flightctl.services.alert_notifier.text import message_text
from flightctl.services.alert_notifier.users import UserInfo

log = logging.getLogger(__name__)

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
FINAL = frozenset({SENT, FAILED, SKIPPED})
"""A delivery in one of these states is never attempted again (a redelivered event is a no-op)."""
ALERT, SLA = "alert", "sla"


@dataclasses.dataclass
class DeliveryRecord:
    """One row of the delivery log."""

    event_id: str
    kind: str
    user_email: str
    text: str
    created_at: datetime
    status: str = PENDING
    chat_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None


class DeliveryStore(Protocol):
    def statuses(self, event_ids: Collection[str]) -> dict[str, str]:
        """The recorded status of each of these events that has a row."""
        ...

    def record_final(self, records: Sequence[DeliveryRecord]) -> set[str]:
        """Write these final outcomes in one transaction, each unless its event's row is final
        already (another consumer got there first); returns the event ids written."""
        ...

    def claim(self, draft: DeliveryRecord) -> AbstractContextManager[DeliveryRecord]:
        """Insert ``draft`` unless its event is already recorded, hold the event's row for this
        caller alone (another consumer of the same event waits or fails with DeliveryBusy),
        and yield the stored state. Changes made to the yielded record are saved when the block
        exits normally and discarded when it raises."""
        ...


class Directory(Protocol):
    def lookup_many(self, emails: Collection[str]) -> tuple[dict[str, UserInfo | None], dict[str, Exception]]:
        """(the user of each email, None when there is none; the emails user-manager could not
        answer for, with the error)."""
        ...


class Sender(Protocol):
    def send(self, chat_id: str, text: str) -> int:
        """Deliver; returns the calls made, else raises PermanentFailure or TransientFailure."""
        ...


class DeliveryPending(Exception):
    """Telegram could not be reached; the row stays pending and the event is retried later."""


class DeliveryBusy(Exception):
    """Another consumer is delivering the same event right now; retry later."""


class Dispatcher:
    """Runs a round of sends, up to ``workers`` at a time (Telegram's limits are the sender's
    rate limiter's business). ``workers=1`` runs everything in the calling thread, in order
    (the unit tests use it)."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="telegram-send") if workers > 1 else None

    def run(self, tasks: Sequence[Callable[[], None]]) -> None:
        """Run every task and wait for all; the first exception a task raised is raised then."""
        if self._pool is None or len(tasks) < 2:
            for task in tasks:
                task()
            return
        futures = [self._pool.submit(task) for task in tasks]
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error

    def start(self) -> None:
        return None

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


@dataclasses.dataclass
class BatchReport:
    """What became of a batch: each event's recorded outcome, the events to try again later
    (with why), and counts by outcome for the batch's log line."""

    outcomes: dict[str, DeliveryRecord] = dataclasses.field(default_factory=dict)
    retry: dict[str, Exception] = dataclasses.field(default_factory=dict)
    counts: Counter[str] = dataclasses.field(default_factory=Counter)


class Notifier:
    def __init__(
        self,
        *,
        store: DeliveryStore,
        directory: Directory,
        sender: Sender | None,
        admin_email: str,
        metrics: NotifierMetrics,
        now: Callable[[], datetime],
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._sender = sender
        self._admin_email = admin_email
        self._metrics = metrics
        self._now = now
        self._dispatcher = dispatcher or Dispatcher(workers=1)

    def draft(self, event: Event) -> DeliveryRecord:
        if isinstance(event, AlertEvent):
            kind, email = ALERT, event.user_email
        else:
            kind, email = SLA, self._admin_email
        return DeliveryRecord(
            event_id=event.event_id,
            kind=kind,
            user_email=email,
            text=message_text(event),
            created_at=self._now(),
        )

    def deliver(self, event: Event) -> DeliveryRecord:
        """Handle one event (a batch of one). Returns the recorded outcome; raises
        DeliveryPending when Telegram stayed unreachable, Unavailable when user-manager could
        not answer (nothing is recorded then), DeliveryBusy when another consumer holds it."""
        report = self.deliver_batch([event])
        error = report.retry.get(event.event_id)
        if error is not None:
            raise error
        return report.outcomes[event.event_id]

    def deliver_batch(self, events: Sequence[Event]) -> BatchReport:
        """Handle each event once (a repeated event id in the batch counts once). Events that
        must be tried again (Telegram unreachable, user-manager not answering, another consumer
        on it) are in ``retry``; an error of the store itself (the database) propagates, and
        the caller retries the whole batch."""
        report = BatchReport()
        drafts: dict[str, DeliveryRecord] = {}
        for event in events:
            if event.event_id not in drafts:
                drafts[event.event_id] = self.draft(event)
        known = self._store.statuses(list(drafts))
        todo = []
        for draft in drafts.values():
            status = known.get(draft.event_id)
            if status in FINAL:
                self._duplicate(report, dataclasses.replace(draft, status=status))
            else:
                todo.append(draft)
        skipped, sends = self._route(todo, report)
        if skipped:
            written = self._store.record_final([record for record, _ in skipped])
            for record, reason in skipped:
                if record.event_id in written:
                    self._metrics.skipped.labels(reason).inc()
                    self._finish(report, record)
                else:
                    self._duplicate(report, record)
        if sends:
            self._send_all(sends, report)
        return report

    def _route(
        self, todo: list[DeliveryRecord], report: BatchReport
    ) -> tuple[list[tuple[DeliveryRecord, str]], list[tuple[DeliveryRecord, str]]]:
        """(deliveries to record as skipped, with the reason; deliveries to send, with the chat)."""
        if self._sender is None:
            return [(skip(d, "TELEGRAM_BOT_TOKEN is not set"), "no_token") for d in todo], []
        if not todo:
            return [], []
        users, failures = self._directory.lookup_many({d.user_email for d in todo})
        if failures:
            log.warning(
                "user-manager did not answer for %d users; their events are retried later: %s",
                len(failures),
                next(iter(failures.values())),
            )
        skipped, sends = [], []
        for draft in todo:
            failure = failures.get(draft.user_email)
            if failure is not None:
                report.retry[draft.event_id] = failure
                report.counts["retry"] += 1
                continue
            user = users.get(draft.user_email)
            if user is None:
                skipped.append((skip(draft, f"no user {draft.user_email} in user-manager"), "user_not_found"))
            elif not user.telegram_chat_id:
                skipped.append((skip(draft, f"user {draft.user_email} has no Telegram chat id"), "no_chat_id"))
            else:
                sends.append((draft, user.telegram_chat_id))
        return skipped, sends

    def _send_all(self, sends: list[tuple[DeliveryRecord, str]], report: BatchReport) -> None:
        """Send in rounds: round k holds the k-th message of every chat, run concurrently, and
        starts when round k-1 is done. A chat's messages keep their order and a worker never
        sits out a chat's one-second pause while other chats could go (a round of n chats takes
        n/30 s at least, so a chat's next message is usually due by then)."""
        rounds: list[list[tuple[DeliveryRecord, str]]] = []
        seen: dict[str, int] = {}
        for draft, chat_id in sends:
            k = seen.get(chat_id, 0)
            seen[chat_id] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append((draft, chat_id))
        results: dict[str, DeliveryRecord | Exception] = {}
        unreachable = threading.Event()  # Telegram failed on every attempt: send no more now

        def send(draft: DeliveryRecord, chat_id: str) -> None:
            if unreachable.is_set():
                results[draft.event_id] = DeliveryPending(f"event {draft.event_id} not attempted: Telegram unreachable")
                return
            outcome = self._send_one(draft, chat_id)
            results[draft.event_id] = outcome
            if isinstance(outcome, DeliveryRecord) and outcome.status == PENDING:
                unreachable.set()

        for batch_round in rounds:
            self._dispatcher.run([functools.partial(send, draft, chat_id) for draft, chat_id in batch_round])
        pending = 0
        for draft, _chat in sends:
            outcome = results[draft.event_id]
            if isinstance(outcome, _Duplicate):
                self._duplicate(report, outcome.record)
            elif isinstance(outcome, Exception):
                report.retry[draft.event_id] = outcome
                report.counts["retry"] += 1
            elif outcome.status == PENDING:
                pending += 1
                self._metrics.notifications.labels(outcome.kind, PENDING).inc()
                report.outcomes[draft.event_id] = outcome
                report.retry[draft.event_id] = DeliveryPending(
                    f"event {outcome.event_id} not delivered yet after {outcome.attempts} attempts: "
                    f"{outcome.last_error}"
                )
                report.counts[PENDING] += 1
            else:
                self._finish(report, outcome)
        if pending:
            first = next(e for e in report.retry.values() if isinstance(e, DeliveryPending))
            log.warning("%d deliveries stay pending and are retried later: %s", pending, first)

    def _send_one(self, draft: DeliveryRecord, chat_id: str) -> DeliveryRecord | Exception:
        """Claim the event's row, send unless it is final already, record the outcome in the
        claim's transaction. Another consumer holding the row: DeliveryBusy, returned."""
        assert self._sender is not None
        try:
            with self._store.claim(draft) as record:
                if record.status in FINAL:
                    return _Duplicate(dataclasses.replace(record))
                record.chat_id = chat_id
                try:
                    attempts = self._sender.send(chat_id, record.text)
                except PermanentFailure as exc:
                    record.status = FAILED
                    record.attempts += exc.attempts
                    record.last_error = exc.message
                except TransientFailure as exc:
                    record.attempts += exc.attempts
                    record.last_error = exc.message
                else:
                    record.status = SENT
                    record.attempts += attempts
                    record.last_error = None
                    record.sent_at = self._now()
                return dataclasses.replace(record)
        except DeliveryBusy as exc:
            return exc

    def _duplicate(self, report: BatchReport, record: DeliveryRecord) -> None:
        self._metrics.notifications.labels(record.kind, "duplicate").inc()
        log.debug("event %s was already handled (%s)", record.event_id, record.status)
        report.outcomes[record.event_id] = record
        report.counts["duplicate"] += 1

    def _finish(self, report: BatchReport, outcome: DeliveryRecord) -> None:
        self._metrics.notifications.labels(outcome.kind, outcome.status).inc()
        # no chat id or email in the log: personal data
        log.debug("event %s %s", outcome.event_id, outcome.status, extra={"attempts": outcome.attempts})
        report.outcomes[outcome.event_id] = outcome
        report.counts[outcome.status] += 1


class _Duplicate(Exception):
    """Not an error: the event's row was final by the time it was claimed."""

    def __init__(self, record: DeliveryRecord) -> None:
        super().__init__(f"event {record.event_id} was already handled ({record.status})")
        self.record = record


def skip(draft: DeliveryRecord, why: str) -> DeliveryRecord:
    return dataclasses.replace(draft, status=SKIPPED, last_error=why)
