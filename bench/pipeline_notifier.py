"""Benchmark: alert-notifier throughput on the path that sends nothing (events/s), on a private
local platform.

Each run produces ``--events`` alert events at once straight to ``to-notifier`` and measures
the time from the first produce until every one is in the delivery log (the ``deliveries``
table, polled every 50 ms).

- ``--mode no-bot`` (default): no TELEGRAM_BOT_TOKEN, so every delivery is recorded as
  ``skipped`` (no_token) without asking user-manager.
- ``--mode lookups``: a bot (a fake Telegram in this process) and events for ``--users``
  users that have no chat id, so each event needs its user (gRPC GetUser to user-manager,
  cached) and is recorded as ``skipped`` (no_chat_id); nothing is sent.

    .venv/bin/python bench/pipeline_notifier.py                    # 3 runs of 2,000 events
    .venv/bin/python bench/pipeline_notifier.py --mode lookups --events 2000

Prints each run and the median and spread, writes JSON (``--json``). Not a test.
"""

from __future__ import annotations

import argparse
import time
import uuid
from contextlib import ExitStack
from typing import Any

from pipeline_common import (
    DEFAULT_PORT_BASE,
    BatchLog,
    git_commit,
    local_platform,
    machine,
    others_running,
    producer,
    send,
    spread,
    write_result,
)
from sqlalchemy import create_engine, text

from flightctl.services.common.kafka import TO_NOTIFIER


def event(email: str, n: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "user_email": email,
        "airport_code": "LIRF",
        "kind": "high",
        "flight_count": 7 + n % 5,
        "threshold": 3,
        "condition": f"The number of flights ({7 + n % 5}) exceeded the high threshold of 3.",
        "source": "opensky",
    }


def create_users(platform: Any, run: str, count: int) -> list[str]:
    emails = [f"nb-{run}-{n}@example.com" for n in range(count)]
    with platform.client("user-manager") as users:
        for email in emails:
            created = users.post(
                "/users",
                json={"email": email, "first_name": "Bench", "last_name": "User"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert created.status_code == 201, created.text
    return emails


def one_run(p: Any, platform: Any, engine: Any, emails: list[str], count: int, timeout: float) -> dict[str, Any]:
    events = [event(emails[n % len(emails)], n) for n in range(count)]
    ids = [e["event_id"] for e in events]
    cpu_before = platform.cpu_seconds("alert-notifier")
    batches = BatchLog(platform, "alert-notifier")
    query = text("SELECT count(*), max(created_at) FROM deliveries WHERE event_id = ANY(:ids)")
    started_wall, started = time.time(), time.monotonic()
    for e in events:
        send(p, TO_NOTIFIER, e, e["user_email"])
    p.flush(timeout=60)
    produced = time.monotonic() - started
    deadline = started + timeout
    done, last = 0, None
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            done, last = connection.execute(query, {"ids": ids}).one()
        if done >= count:
            break
        time.sleep(0.05)
    seen = time.time()
    cpu = round(platform.cpu_seconds("alert-notifier") - cpu_before, 2)
    if done < count:
        raise RuntimeError(f"only {done} of {count} events in the delivery log after {timeout}s")
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                text("SELECT status, count(*) FROM deliveries WHERE event_id = ANY(:ids) GROUP BY status"), {"ids": ids}
            ).all()
        )
    seconds = seen - started_wall
    result = {
        "events": count,
        "statuses": statuses,
        "produce_seconds": round(produced, 3),
        "seconds_until_all_logged": round(seconds, 3),
        "seconds_until_last_created_at": round(last.timestamp() - started_wall, 3),
        "events_per_second": round(count / seconds, 1),
        "notifier_cpu_seconds": cpu,
        "notifier_batches": batches.summary(),
    }
    print(
        f"  {count} events: all in the delivery log after {seconds:.2f}s -> {result['events_per_second']} events/s "
        f"({statuses}, produce {produced:.2f}s, notifier cpu {cpu}s, batches {result['notifier_batches']})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mode", choices=("no-bot", "lookups"), default="no-bot")
    parser.add_argument("--users", type=int, default=200, help="distinct users the events are for")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--timeout", type=float, default=300.0, help="per run")
    parser.add_argument("--json")
    args = parser.parse_args()

    result: dict[str, Any] = {
        "benchmark": f"pipeline-notifier-{args.mode}",
        "command": f"bench/pipeline_notifier.py --mode {args.mode} --events {args.events} --repeat {args.repeat}",
        "commit": git_commit(),
        "machine": machine(),
        "others_running_at_start": others_running(),
        "runs": [],
    }
    with ExitStack() as stack:
        settings: dict[str, str] = {}
        if args.mode == "lookups":
            from tests.fakes.telegram import FakeTelegram

            telegram = stack.enter_context(FakeTelegram())
            settings = {"TELEGRAM_API_URL": telegram.api_url, "TELEGRAM_BOT_TOKEN": telegram.token}
        platform = stack.enter_context(local_platform(args.port_base, **settings))
        engine = create_engine(platform.database_url("alert-notifier"))
        stack.callback(engine.dispose)
        p = producer(platform.bootstrap)
        stack.callback(lambda: p.close(timeout=10))
        run = uuid.uuid4().hex[:8]
        if args.mode == "lookups":
            emails = create_users(platform, run, args.users)
        else:
            emails = [f"nb-{run}-{n}@example.com" for n in range(args.users)]
        one_run(p, platform, engine, emails, 50, args.timeout)  # warm-up
        for _ in range(args.repeat):
            result["runs"].append(one_run(p, platform, engine, emails, args.events, args.timeout))
    rates = [r["events_per_second"] for r in result["runs"]]
    result["events_per_second"] = spread(rates)
    result["target_events_per_second"] = 1000
    print(
        f"alert-notifier ({args.mode}): median {result['events_per_second']['median']} events/s "
        f"(min {min(rates)}, max {max(rates)}; target >= 1000)"
    )
    write_result(f"pipeline-notifier-{args.mode}", result, args.json)


if __name__ == "__main__":
    main()
