"""Benchmark: how long `flightctl up --local` takes, first and second run.

Each round, in a fresh FLIGHTCTL_HOME under /tmp on its own port base (collector pointed away
from OpenSky, as the other benchmarks):

- ``first``: `up --local` on an empty home (certificate, PostgreSQL cluster and databases, Kafka
  storage and topics, migrations, every service healthy);
- ``again``: `up --local` at once, with everything running (it checks and starts nothing);
- ``restart``: `down --local` (data kept), then `up --local` (every process started again on
  the existing data).

Then `down --local --purge`. Prints each round and the median and spread; writes JSON.

    .venv/bin/python bench/up_local.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pipeline_common as common

DEFAULT_PORT_BASE = 28000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--json", help="where to write the result (default bench/results/up-local-<time>.json)")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "up_local",
        "commit": common.git_commit(),
        "machine": common.machine(),
        "others_at_start": common.others_running(),
        "runs": [],
    }
    for n in range(args.repeat):
        home = Path(tempfile.mkdtemp(prefix="fc-up-", dir="/tmp"))
        home.chmod(0o755)  # the postgres user must reach it
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OPENSKY_", "TELEGRAM_", "FLIGHTCTL_"))},
            "FLIGHTCTL_HOME": str(home),
            "FLIGHTCTL_PORT_BASE": str(args.port_base),
            "OPENSKY_API_URL": "http://127.0.0.1:9/api",
            "OPENSKY_TOKEN_URL": "http://127.0.0.1:9/token",
            "OPENSKY_MOCK_FALLBACK": "false",
        }
        env.pop("API_TOKEN", None)
        run: dict[str, Any] = {"load_1m": round(os.getloadavg()[0], 2)}
        try:
            for step, commands in (
                ("first", [("up", "--local")]),
                ("again", [("up", "--local")]),
                ("restart", [("down", "--local"), ("up", "--local")]),
            ):
                began = time.perf_counter()
                for command in commands:
                    common.flightctl(env, *command)
                    if command[0] == "down":
                        began = time.perf_counter()  # time the up only
                run[step] = round(time.perf_counter() - began, 2)
        finally:
            common.flightctl(env, "down", "--local", "--purge")
            shutil.rmtree(home, ignore_errors=True)
        result["runs"].append(run)
        print(f"round {n + 1}: first {run['first']} s, again {run['again']} s, after down {run['restart']} s "
              f"(load {run['load_1m']})", flush=True)  # fmt: skip
    result["summary"] = {
        step: common.spread([r[step] for r in result["runs"]]) for step in ("first", "again", "restart")
    }
    for step, s in result["summary"].items():
        print(f"{step:<8} median {s['median']} s ({s['min']}-{s['max']})")
    common.write_result("up-local", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
