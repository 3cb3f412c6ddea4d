"""Benchmark: `flightctl loadtest` (the Locust mix through the gateway) on a private platform
holding a million flights, ``--repeat`` times; each run's per-endpoint figures and the services'
peak RSS, then per endpoint the median and spread of p95 and p99 and the total failures.

    .venv/bin/python bench/loadtest_locust.py [--users 100] [--duration 3m] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import pipeline_common as common
from flights_million import load

DEFAULT_PORT_BASE = 28300


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", default="3m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--json", help="where to write the result (default bench/results/loadtest-<time>.json)")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "loadtest_locust",
        "commit": common.git_commit(),
        "machine": common.machine(),
        "others_at_start": common.others_running(),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "runs": [],
    }
    with common.local_platform(args.port_base) as platform:
        print(f"» loading {args.rows:,} flights", file=sys.stderr)
        load(platform.database_url("data-collector"), args.rows, 30, 7)
        for n in range(args.repeat):
            load1 = round(os.getloadavg()[0], 2)
            done = subprocess.run(
                [*common.FLIGHTCTL, "-o", "json", "loadtest", "--users", str(args.users),
                 "--spawn-rate", f"{args.spawn_rate:g}", "--duration", args.duration],
                env=platform.env, capture_output=True, text=True, timeout=3600, check=False,
            )  # fmt: skip
            if done.returncode not in (0, 1):
                raise SystemExit(f"flightctl loadtest exited {done.returncode}: {done.stderr[-2000:]}")
            report = json.loads(done.stdout)
            report["load_1m"] = load1
            result["runs"].append(report)
            total = report["aggregated"]
            worst = max(report["endpoints"], key=lambda e: e["p99_ms"])
            print(f"run {n + 1}: {total['requests']} requests, {total['failures']} failures, "
                  f"{total['requests_per_second']} req/s, p95 {total['p95_ms']} ms, p99 {total['p99_ms']} ms; "
                  f"worst p99 {worst['p99_ms']} ms ({worst['endpoint']}); peak RSS {report['peak_rss_mib']} "
                  f"(load {load1})", flush=True)  # fmt: skip
    names = sorted({e["endpoint"] for run in result["runs"] for e in run["endpoints"]})
    summary: dict[str, Any] = {}
    for name in names:
        rows = [e for run in result["runs"] for e in run["endpoints"] if e["endpoint"] == name]
        summary[name] = {
            "requests": sum(r["requests"] for r in rows),
            "failures": sum(r["failures"] for r in rows),
            "p95_ms": common.spread([r["p95_ms"] for r in rows]),
            "p99_ms": common.spread([r["p99_ms"] for r in rows]),
        }
    result["summary"] = summary
    result["peak_rss_mib"] = {
        service: common.spread([run["peak_rss_mib"][service] for run in result["runs"]])
        for service in result["runs"][0]["peak_rss_mib"]
    }
    print(f"\n{'endpoint':<58}{'requests':>9}{'fail':>6}{'p95 median (min-max)':>24}{'p99 median (min-max)':>24}")
    for name, s in summary.items():
        p95, p99 = s["p95_ms"], s["p99_ms"]
        spread95 = f"{p95['median']:>10.0f} ({p95['min']:.0f}-{p95['max']:.0f})"
        spread99 = f"{p99['median']:>12.0f} ({p99['min']:.0f}-{p99['max']:.0f})"
        print(f"{name:<56}{s['requests']:>9}{s['failures']:>6}{spread95}{spread99}")
    print(f"peak RSS (MiB): {result['peak_rss_mib']}")
    common.write_result("loadtest", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
