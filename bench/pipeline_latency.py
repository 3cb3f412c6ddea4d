"""Benchmark: end-to-end alert latency, from publishing a reading to ``to-alert-system`` until
the (fake) Telegram receives its ``sendMessage``, on a private local platform.

A fake Telegram runs in this process (tests/fakes/telegram.py, the one the test suite uses)
and ``--users`` users with a chat each are created. Readings are then published at ``--rate``
per second for ``--seconds`` seconds; every reading is a new breach of its own (user, airport),
so each one becomes exactly one Telegram message. The latency of each is the fake's receive
time minus the publish time (both this process's wall clock). The notifier keeps Telegram's
limits (30 messages/s overall, 1/s per chat), so a rate above 30/s queues by design.

    .venv/bin/python bench/pipeline_latency.py                     # 50 alerts/s for 20 s, 3 runs
    .venv/bin/python bench/pipeline_latency.py --rate 20

Prints p50/p95/p99/max per run and the median and spread over the runs, writes JSON. Not a test.
"""

from __future__ import annotations

import argparse
import re
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_common import (
    DEFAULT_PORT_BASE,
    git_commit,
    local_platform,
    machine,
    others_running,
    percentile,
    producer,
    send,
    spread,
    write_result,
)

from flightctl.services.common.kafka import TO_ALERT_SYSTEM
from tests.fakes.telegram import FakeTelegram

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEADER = re.compile(r"<b>([0-9A-Z]{4})</b>")


def airport(n: int) -> str:
    """A distinct 4-character code per reading (a new (user, airport) pair: a new breach)."""
    code = ""
    for _ in range(4):
        n, digit = divmod(n, len(ALPHABET))
        code += ALPHABET[digit]
    return code


def create_users(platform: Any, count: int) -> list[tuple[str, str]]:
    run = uuid.uuid4().hex[:8]
    users = []
    with platform.client("user-manager") as client:
        for n in range(count):
            email, chat = f"lat-{run}-{n}@example.com", str(7_000_000_000 + n)
            created = client.post(
                "/users",
                json={"email": email, "first_name": "Bench", "last_name": "User"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert created.status_code == 201, created.text
            linked = client.post("/users/telegram", json={"email": email, "telegram_chat_id": chat})
            assert linked.status_code == 200, linked.text
            users.append((email, chat))
    return users


def one_run(
    p: Any, telegram: FakeTelegram, users: list[tuple[str, str]], first: int, rate: float, seconds: float
) -> dict[str, Any]:
    count = int(rate * seconds)
    published: dict[str, float] = {}
    before = len(telegram.messages)
    start = time.monotonic()
    for i in range(count):
        n = first + i
        due = start + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        email, _chat = users[n % len(users)]
        code = airport(n)
        end = datetime.now(UTC)
        value = {
            "event_id": str(uuid.uuid4()),
            "user_email": email,
            "airport_code": code,
            "flight_count": 9,
            "high_value": 4,
            "low_value": None,
            "window_start": (end - timedelta(hours=24)).isoformat(),
            "window_end": end.isoformat(),
            "source": "opensky",
        }
        published[code] = time.time()
        send(p, TO_ALERT_SYSTEM, value, code)
    p.flush(timeout=30)
    publish_seconds = time.monotonic() - start
    # Everything published must arrive; at more than 30/s it queues behind Telegram's limit.
    budget = 60 + count / 30
    telegram.wait_for_messages(before + count, timeout=budget)
    received: dict[str, float] = {}
    for message in telegram.messages[before:]:
        m = HEADER.search(message.text)
        if m and m.group(1) in published and m.group(1) not in received:
            received[m.group(1)] = message.time
    latencies = sorted((received[c] - published[c]) * 1000 for c in received)
    if len(latencies) < count:
        raise RuntimeError(f"only {len(latencies)} of {count} alerts reached Telegram within {budget:.0f}s")
    times = sorted(received.values())
    result = {
        "alerts": count,
        "rate_requested": rate,
        "rate_published": round(count / publish_seconds, 1),
        "send_rate_achieved": round((count - 1) / (times[-1] - times[0]), 1) if count > 1 else None,
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(latencies[-1], 1),
            "min": round(latencies[0], 1),
        },
    }
    lat = result["latency_ms"]
    print(
        f"  {count} alerts at {result['rate_published']}/s: p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
        f"p99 {lat['p99']} ms, max {lat['max']} ms (Telegram received {result['send_rate_achieved']}/s)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each run publishes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=200, help="distinct users (chats) the alerts go to")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--json")
    args = parser.parse_args()

    result: dict[str, Any] = {
        "benchmark": "pipeline-latency",
        "command": f"bench/pipeline_latency.py --rate {args.rate:g} --seconds {args.seconds:g} --repeat {args.repeat}",
        "commit": git_commit(),
        "machine": machine(),
        "others_running_at_start": others_running(),
        "runs": [],
    }
    with ExitStack() as stack:
        telegram = stack.enter_context(FakeTelegram())
        settings = {"TELEGRAM_API_URL": telegram.api_url, "TELEGRAM_BOT_TOKEN": telegram.token}
        platform = stack.enter_context(local_platform(args.port_base, **settings))
        p = producer(platform.bootstrap)
        stack.callback(lambda: p.close(timeout=10))
        users = create_users(platform, args.users)
        n = 0
        one_run(p, telegram, users, n, min(args.rate, 10), 2)  # warm-up: connections, getMe
        n += 20
        for _ in range(args.repeat):
            result["runs"].append(one_run(p, telegram, users, n, args.rate, args.seconds))
            n += int(args.rate * args.seconds)
    summary = {q: spread([r["latency_ms"][q] for r in result["runs"]]) for q in ("p50", "p95", "p99", "max")}
    result["latency_ms"] = summary
    result["target_p95_ms"] = 500
    print(
        f"end to end at {args.rate:g} alerts/s: p50 {summary['p50']['median']} ms, p95 {summary['p95']['median']} ms "
        f"(runs {summary['p95']['min']}-{summary['p95']['max']}), p99 {summary['p99']['median']} ms; "
        "target p95 < 500 ms"
    )
    write_result(f"pipeline-latency-{args.rate:g}", result, args.json)


if __name__ == "__main__":
    main()
