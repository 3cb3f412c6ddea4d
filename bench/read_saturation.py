"""Benchmark: the point reads at saturation through the gateway, beside a hello-world app on the
same server stack, in the same run.

A private local platform (as the pipeline benchmarks: fresh FLIGHTCTL_HOME under /tmp, its own
port base, always taken down), a million flights loaded with COPY (bench/flights_million.py's
loader), one user; then a hello-world WSGI app (bench/hello_world.py) on the services' own
HTTP server class and settings, behind a second NGINX rendered from the same gateway template
(every prefix proxied to it). wrk (``apt-get install wrk``) keeps ``--connections`` connections
busy with no wait for ``--seconds`` against each of:

- ``hello``: ``GET /data-collector/`` of the hello-world gateway (the server stack's ceiling);
- ``flights-last``: ``GET /data-collector/flights/last/EGLL`` (the busiest airport);
- ``user``: ``GET /user-manager/users/<email>``;

one after the other, ``--repeat`` rounds (after a short warm-up of each), so every ratio
ours/hello compares runs seconds apart. Prints requests/s and p50/p95/p99 of each run, the
median and spread, the ratios, and data-collector's peak RSS; writes JSON.

    .venv/bin/python bench/read_saturation.py [--rows 1000000] [--seconds 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import pipeline_common as common
from flights_million import load

from flightctl.deploy import gateway
from flightctl.local import nginx, postgres
from flightctl.platform.layout import Home, port_in_use
from flightctl.platform.proc import wait_until

BENCH = Path(__file__).resolve().parent
DEFAULT_PORT_BASE = 27400


def wrk(url: str, token: str, seconds: int, connections: int) -> dict[str, Any]:
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(BENCH / "wrk_report.lua"),
        "-H", f"Authorization: Bearer {token}", url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx"))
    return {
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
    }


def tree_cpu_ticks(pid: int) -> int:
    """User + system CPU clock ticks of a process and its children (PostgreSQL's backends,
    NGINX's workers), read from /proc."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])
        pids.extend(int(c) for c in children)
    return total


class CpuPerRequest:
    """CPU time per request of each named process tree over one wrk run: what a request costs
    the machine, which other work on the shared cores does not change as it does requests/s."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before = {name: tree_cpu_ticks(pid) for name, pid in pids.items()}

    def per_request_us(self, requests: int) -> dict[str, float]:
        hz = os.sysconf("SC_CLK_TCK")
        return {
            name: round((tree_cpu_ticks(pid) - self.before[name]) / hz / max(requests, 1) * 1e6, 1)
            for name, pid in self.pids.items()
        }


class PeakRss:
    """Samples a process's VmRSS every 0.2 s in a thread; ``peak`` in MiB."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) / 1024)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(2)
        return round(self.peak, 1)


def hello_gateway(home: Path, port_base: int, cert: Path, key: Path, work: Path) -> tuple[list[str], int, int]:
    """The command of a second NGINX from the gateway template with every upstream at the hello
    world (base+90), listening on base+94 (HTTPS) and base+95, and those two ports."""
    hello_port, https, http = port_base + 90, port_base + 94, port_base + 95
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(
        gateway.render(
            upstream=lambda _service: f"127.0.0.1:{hello_port}",
            http_listen=f"127.0.0.1:{http}",
            https_listen=f"127.0.0.1:{https}",
            https_port_suffix=f":{https}",
            cert=cert,
            key=key,
            pid_file=work / "nginx.pid",
            error_log=work / "error.log",
            access_log=work / "access.log",
            temp_dir=work / "tmp",
            user_directive="user www-data;" if os.geteuid() == 0 else "",
        )
    )
    command = [nginx.binary(), "-p", str(work), "-c", str(conf), "-e", str(work / "error.log"), "-g", "daemon off;"]
    return command, hello_port, https


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--json", help="where to write the result (default bench/results/read-saturation-<time>.json)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    result: dict[str, Any] = {
        "benchmark": "read_saturation",
        "commit": common.git_commit(),
        "machine": common.machine(),
        "others_at_start": common.others_running(),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
    }
    processes: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="fc-hello-", dir="/tmp"))
    work.chmod(0o755)
    try:
        with common.local_platform(args.port_base) as platform:
            state = Home(platform.home).load_state()
            assert state is not None
            print(f"» loading {args.rows:,} flights", file=sys.stderr)
            result["load_seconds"] = round(load(platform.database_url("data-collector"), args.rows, 30, 7), 1)
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            with platform.client("user-manager") as users:
                created = users.post(
                    "/users",
                    json={"email": email, "first_name": "Ada", "last_name": "Lovelace"},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                assert created.status_code == 201, created.text
            certs = platform.home / "certs"
            command, hello_port, hello_https = hello_gateway(
                platform.home, args.port_base, certs / "gateway.crt", certs / "gateway.key", work
            )
            log = (work / "hello.log").open("wb")
            processes.append(subprocess.Popen([sys.executable, str(BENCH / "hello_world.py"), str(hello_port)],
                                              stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
            if not wait_until(lambda: port_in_use(hello_port) and port_in_use(hello_https), 15):
                raise SystemExit(f"the hello world or its gateway did not start: {(work / 'hello.log').read_text()}")
            gw = str(platform.status["gateway"])
            targets = {
                "hello": f"https://127.0.0.1:{hello_https}/data-collector/",
                "flights-last": f"{gw}/data-collector/flights/last/EGLL",
                "user": f"{gw}/user-manager/users/{email}",
            }
            for url in targets.values():  # warm-up: pools filled, statements prepared
                wrk(url, platform.token, 3, args.connections)
            postgres_pid = int((postgres.data_dir(Home(platform.home)) / "postmaster.pid").read_text().split()[0])
            gateway_pid = int(json.loads((Home(platform.home).run / "gateway.json").read_text())["pid"])
            # Whose CPU each target's requests use: its app, the database, its gateway.
            cpu_of = {
                "hello": {"app": processes[0].pid, "gateway": processes[1].pid},
                "flights-last": {
                    "app": platform.pid("data-collector"),
                    "postgres": postgres_pid,
                    "gateway": gateway_pid,
                },
                "user": {"app": platform.pid("user-manager"), "postgres": postgres_pid, "gateway": gateway_pid},
            }
            peak = PeakRss(platform.pid("data-collector"))
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            ratios: dict[str, list[float]] = {"flights-last": [], "user": []}
            for n in range(args.repeat):
                load1 = round(os.getloadavg()[0], 2)
                for name, url in targets.items():
                    cpu = CpuPerRequest(cpu_of[name])
                    figures = {**wrk(url, platform.token, args.seconds, args.connections), "load_1m": load1}
                    figures["cpu_us_per_request"] = cpu.per_request_us(figures["requests"])
                    runs[name].append(figures)
                    print(f"round {n + 1} {name:<13} {figures['requests_per_second']:>8.0f} req/s  p50 "
                          f"{figures['p50_ms']:.1f}  p95 {figures['p95_ms']:.1f}  p99 {figures['p99_ms']:.1f} ms  "
                          f"errors {figures['errors']}  CPU us/request {figures['cpu_us_per_request']}  "
                          f"(load {load1})", flush=True)  # fmt: skip
                for name in ratios:
                    ratios[name].append(
                        round(runs[name][-1]["requests_per_second"] / runs["hello"][-1]["requests_per_second"], 3)
                    )
            result["data_collector_peak_rss_mib"] = peak.stop()
            result["runs"] = runs
            result["summary"] = {
                name: {
                    "requests_per_second": common.spread([r["requests_per_second"] for r in values]),
                    "p95_ms": common.spread([r["p95_ms"] for r in values]),
                    "p99_ms": common.spread([r["p99_ms"] for r in values]),
                    "errors": sum(r["errors"] for r in values),
                    "cpu_us_per_request": {
                        part: common.spread([r["cpu_us_per_request"][part] for r in values])["median"]
                        for part in values[0]["cpu_us_per_request"]
                    },
                }
                for name, values in runs.items()
            }
            result["ratio_to_hello"] = {name: common.spread(values) for name, values in ratios.items()}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(15)
        shutil.rmtree(work, ignore_errors=True)

    print()
    for name, figures in result["summary"].items():
        rps, p95 = figures["requests_per_second"], figures["p95_ms"]
        ratio = result["ratio_to_hello"].get(name)
        against = f"  ratio to hello {ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})" if ratio else ""
        print(f"{name:<13} median {rps['median']:>7.0f} req/s ({rps['min']:.0f}-{rps['max']:.0f})  p95 median "
              f"{p95['median']:.1f} ms ({p95['min']:.1f}-{p95['max']:.1f}){against}; CPU us/request "
              f"{figures['cpu_us_per_request']}")  # fmt: skip
    print(f"data-collector peak RSS {result['data_collector_peak_rss_mib']} MiB")
    print(f"median load average during the rounds: {statistics.median(r['load_1m'] for r in runs['hello'])}")
    common.write_result("read-saturation", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
