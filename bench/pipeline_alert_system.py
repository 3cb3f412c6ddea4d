"""Benchmark: alert-system throughput (events/s) on a private local platform.

Each run produces ``--readings`` readings at once to ``to-alert-system`` (every one a new breach
of its own (user, airport), so each causes exactly one notification; keys spread over the
partitions as data-collector's airport keys are) and measures the time from the first
produce until the last of the notifications is on ``to-notifier``. The notifier runs as usual
(no bot: its deliveries are skipped) and shares the machine, as in production.

    .venv/bin/python bench/pipeline_alert_system.py                # 3 runs of 3,000 readings
    .venv/bin/python bench/pipeline_alert_system.py --readings 10000 --repeat 3

Prints each run and the median and spread, writes JSON (``--json``, default
bench/results/pipeline-alert-system-<time>.json). Not a test (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_common import (
    DEFAULT_PORT_BASE,
    BatchLog,
    Tail,
    git_commit,
    local_platform,
    machine,
    others_running,
    producer,
    send,
    spread,
    write_result,
)

from flightctl.services.common.kafka import TO_ALERT_SYSTEM, TO_NOTIFIER

AIRPORTS = ["LIRF", "LIMC", "EGLL", "LFPG", "EHAM", "EDDF", "LEMD", "LEBL", "EDDM", "LSZH", "LOWW", "EKCH"]


def reading(run: str, n: int) -> tuple[str, dict[str, Any]]:
    airport = AIRPORTS[n % len(AIRPORTS)]
    end = datetime.now(UTC)
    return airport, {
        "event_id": str(uuid.uuid4()),
        "user_email": f"as-{run}-{n}@example.com",
        "airport_code": airport,
        "flight_count": 10,
        "high_value": 5,
        "low_value": None,
        "window_start": (end - timedelta(hours=24)).isoformat(),
        "window_end": end.isoformat(),
        "source": "opensky",
    }


def one_run(p: Any, platform: Any, count: int, timeout: float) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    prefix = f'"user_email":"as-{run}-'.encode()
    messages = [reading(run, n) for n in range(count)]
    tail = Tail(platform.bootstrap, TO_NOTIFIER)
    cpu_before = {s: platform.cpu_seconds(s) for s in ("alert-system", "alert-notifier")}
    batches = BatchLog(platform, "alert-system")
    try:
        started_wall, started = time.time(), time.monotonic()
        for key, value in messages:
            send(p, TO_ALERT_SYSTEM, value, key)
        p.flush(timeout=60)
        produced = time.monotonic() - started
        found = tail.until(lambda r: prefix in r.value, count, timeout)
    finally:
        tail.close()
    cpu = {s: round(platform.cpu_seconds(s) - cpu_before[s], 2) for s in cpu_before}
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} of {count} notifications on {TO_NOTIFIER} after {timeout}s")
    last_seen = max(seen for seen, _ in found)
    last_stamp = max(r.timestamp for _, r in found) / 1000
    ids = {json.loads(r.value)["event_id"] for _, r in found}
    seconds = last_seen - started_wall
    result = {
        "readings": count,
        "notifications": len(found),
        "distinct_event_ids": len(ids),
        "produce_seconds": round(produced, 3),
        "seconds_until_last_seen": round(seconds, 3),
        "seconds_until_last_timestamp": round(last_stamp - started_wall, 3),
        "events_per_second": round(count / seconds, 1),
        "cpu_seconds": cpu,
        "alert_system_batches": batches.summary(),
    }
    print(
        f"  {count} readings: all {len(found)} notifications after {seconds:.2f}s "
        f"-> {result['events_per_second']} events/s (produce {produced:.2f}s, cpu {cpu}, "
        f"batches {result['alert_system_batches']})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--timeout", type=float, default=300.0, help="per run")
    parser.add_argument("--json", help="where to write the result (default bench/results/...)")
    args = parser.parse_args()

    result: dict[str, Any] = {
        "benchmark": "pipeline-alert-system",
        "command": "bench/pipeline_alert_system.py " + f"--readings {args.readings} --repeat {args.repeat}",
        "commit": git_commit(),
        "machine": machine(),
        "others_running_at_start": others_running(),
        "runs": [],
    }
    with local_platform(args.port_base) as platform:
        p = producer(platform.bootstrap)
        try:
            # One small warm-up run: connections, the first fetches, JIT-free Python caches.
            one_run(p, platform, 50, args.timeout)
            for _ in range(args.repeat):
                result["runs"].append(one_run(p, platform, args.readings, args.timeout))
        finally:
            p.close(timeout=10)
    rates = [r["events_per_second"] for r in result["runs"]]
    result["events_per_second"] = spread(rates)
    result["target_events_per_second"] = 2000
    print(
        f"alert-system: median {result['events_per_second']['median']} events/s "
        f"(min {min(rates)}, max {max(rates)}; target >= 2000)"
    )
    write_result("pipeline-alert-system", result, args.json)


if __name__ == "__main__":
    main()
