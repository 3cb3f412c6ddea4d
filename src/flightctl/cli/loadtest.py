"""`flightctl loadtest`: the platform's load test, run headless by Locust through the gateway of
the current context (the task mix: flightctl/cli/locustfile.py, docs/PERFORMANCE.md). Locust is
an optional extra (`pip install 'flightctl-platform[loadtest]'`); without it the command says so
and exits 5. Locust's CSV files, its HTML report and its log go to
``$FLIGHTCTL_HOME/loadtests/<time>/``; the command prints per endpoint the requests, failures,
p50, p95, p99 and requests/s, and each service's peak resident memory during the run."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError, PrerequisiteMissing, UsageError
from flightctl.platform.interface import LOCAL

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
INSTALL = "pip install 'flightctl-platform[loadtest]'"
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")
SAMPLE_SECONDS = 0.5
SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")


def seconds(text: str) -> int:
    """``180``, ``180s``, ``3m``, ``1h30m``: whole seconds, at least 1."""
    match = DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise UsageError(f"--duration must look like 30s, 3m or 1h30m, not {text!r}")
    h, m, s = (int(g) if g else 0 for g in match.groups())
    total = h * 3600 + m * 60 + s
    if total < 1:
        raise UsageError("--duration must be at least 1s")
    return total


@cli.command()
def loadtest(
    ctx: typer.Context,
    users: Annotated[int, typer.Option("--users", "-u", min=1, max=5000, help="simulated users")] = 100,
    spawn_rate: Annotated[float, typer.Option("--spawn-rate", "-r", min=0.1, help="users started per second")] = 10.0,
    duration: Annotated[str, typer.Option("--duration", "-d", help="how long: 30s, 3m, 1h30m")] = "3m",
    host: Annotated[
        str | None, typer.Option("--host", help="the gateway's URL (default: the current context's)")
    ] = None,
) -> None:
    """Run the load test (Locust, headless) through the gateway and report each endpoint's requests,
    failures, p50/p95/p99 latency and requests/s, and each service's peak memory. Answers the API
    gives on purpose (404 no flights, 409 an existing interest or user, 400 an invalid SLA config)
    count as success. Exits 1 when any request failed (the report is printed first), 5 when
    Locust is not installed."""
    run_seconds = seconds(duration)
    if not locust_installed():
        raise PrerequisiteMissing(f"flightctl loadtest needs Locust; install it with: {INSTALL}")
    obj: Context = ctx.obj
    platform = obj.platform()
    gateway = (host or str(platform.status().get("gateway") or "")).rstrip("/")
    if not gateway:
        raise FlightctlError("the current context has no gateway URL; give one with --host")
    out = obj.home.path("loadtests", datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    out.mkdir(parents=True, exist_ok=True)
    pids = _service_pids(obj) if obj.context == LOCAL else {}
    obj.progress(f"{users} user(s), {spawn_rate:g}/s, for {run_seconds}s against {gateway}; files in {out}")

    env = {**os.environ, "FLIGHTCTL_LOADTEST_TOKEN": obj.token() or ""}
    cert = platform.certificate() if gateway.startswith("https://") else None
    if cert is not None:
        env["FLIGHTCTL_LOADTEST_CA"] = str(cert)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--users", str(users), "--spawn-rate", f"{spawn_rate:g}", "--run-time", f"{run_seconds}s",
        "--stop-timeout", "10", "--host", gateway, "--csv", str(out / "locust"), "--html", str(out / "report.html"),
        "--logfile", str(out / "locust.log"), "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    peaks: dict[str, float] = {}
    done = threading.Event()
    sampler = threading.Thread(target=_sample_memory, args=(pids, peaks, done), daemon=True)
    sampler.start()
    try:
        with (out / "locust.out").open("w") as log:
            finished = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    finally:
        done.set()
        sampler.join(5)
    stats = out / "locust_stats.csv"
    if finished.returncode != 0 or not stats.exists():
        tail = (out / "locust.out").read_text(errors="replace").strip().splitlines()[-5:]
        raise FlightctlError(f"Locust exited {finished.returncode}: " + " | ".join(tail))
    report = summarize(stats, peaks, obj.context)
    report["files"] = {"directory": str(out), "html": str(out / "report.html"), "csv": str(stats)}
    _emit(report, obj.output)
    if report["aggregated"]["failures"]:
        raise typer.Exit(1)


def locust_installed() -> bool:
    return importlib.util.find_spec("locust") is not None


def _service_pids(obj: Context) -> dict[str, int]:
    """Each running service's own process (not its supervisor's)."""
    from flightctl.local.platform import component_pid

    found = {name: component_pid(obj.home, name) for name in SERVICES}
    return {name: pid for name, pid in found.items() if pid is not None}


def rss_mib(pid: int) -> float | None:
    """The process's resident memory now (VmRSS), or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _sample_memory(pids: dict[str, int], peaks: dict[str, float], done: threading.Event) -> None:
    while True:
        for name, pid in pids.items():
            now = rss_mib(pid)
            if now is not None and now > peaks.get(name, 0.0):
                peaks[name] = now
        if done.wait(SAMPLE_SECONDS):
            return


def _number(row: dict[str, str], column: str) -> float:
    try:
        return float(row.get(column) or 0)
    except ValueError:  # "N/A" when an endpoint saw no request
        return 0.0


def summarize(stats_csv: Path, peaks: dict[str, float], context: str) -> dict[str, Any]:
    """Locust's per-endpoint statistics (its ``_stats.csv``) and the peak memory per service."""
    endpoints: list[dict[str, Any]] = []
    aggregated: dict[str, Any] = {}
    with stats_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            figures = {
                "requests": int(_number(row, "Request Count")),
                "failures": int(_number(row, "Failure Count")),
                "p50_ms": _number(row, "50%"),
                "p95_ms": _number(row, "95%"),
                "p99_ms": _number(row, "99%"),
                "requests_per_second": round(_number(row, "Requests/s"), 1),
            }
            if row.get("Name") == "Aggregated":
                aggregated = figures
            else:
                endpoints.append({"endpoint": row.get("Name", ""), **figures})
    if context == LOCAL:
        memory: dict[str, Any] = {name: round(mib, 1) for name, mib in sorted(peaks.items())}
    else:
        memory = {
            "note": "not measured here: the services run in the cluster's pods; see their memory with "
            "`kubectl top pod -n flightctl` (metrics-server) or the container runtime's statistics"
        }
    return {"endpoints": endpoints, "aggregated": aggregated, "peak_rss_mib": memory}


def _emit(report: dict[str, Any], fmt: str) -> None:
    if fmt != "table":
        emit(report, fmt)
        return
    rows = [*report["endpoints"], {"endpoint": "all", **report["aggregated"]}]
    columns = ["endpoint", "requests", "failures", "p50_ms", "p95_ms", "p99_ms", "requests_per_second"]
    emit(rows, fmt, columns)
    memory = report["peak_rss_mib"]
    typer.echo("")
    if "note" in memory:
        typer.echo(f"peak memory: {memory['note']}")
    else:
        emit([{"service": name, "peak_rss_mib": mib} for name, mib in memory.items()], fmt)
    typer.echo(f"\nLocust's CSV and HTML report: {report['files']['directory']}")
