"""What the pipeline benchmarks share: a private local platform (`flightctl up --local` in a
fresh FLIGHTCTL_HOME under /tmp and its own port base, always taken down and purged at the
end), raw Kafka producing and tailing, the services' CPU time, and the summary/JSON output.

Not a test and not imported by the suite (bench/README.md).
"""

from __future__ import annotations

import ast
import json
import os
import platform as host
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402

from flightctl.local import postgres  # noqa: E402
from flightctl.platform.layout import Home  # noqa: E402
from flightctl.services.common.kafka import encode  # noqa: E402

FLIGHTCTL = [sys.executable, "-m", "flightctl"]
DEFAULT_PORT_BASE = 24600
"""Inside the range the pipeline work may use (23400-26300), away from the test base 23400."""
RESULTS = ROOT / "bench" / "results"


@dataclass
class BenchPlatform:
    home: Path
    env: dict[str, str]
    status: dict[str, Any]
    token: str

    @property
    def bootstrap(self) -> str:
        return str(self.status["kafka"])

    def url(self, service: str) -> str:
        return str(self.status["services"][service]["url"])

    def client(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.url(service), headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def database_url(self, service: str) -> str:
        state = Home(self.home).load_state()
        assert state is not None
        return postgres.url(state, postgres.DATABASES[service])

    def pid(self, service: str) -> int:
        """The service's own process (the child of its supervisor)."""
        from flightctl.local.platform import component_pid

        pid = component_pid(Home(self.home), service)
        if pid is None:
            raise RuntimeError(f"{service} is not running")
        return pid

    def cpu_seconds(self, service: str) -> float:
        """User + system CPU time the service's process has used so far."""
        fields = Path(f"/proc/{self.pid(service)}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BatchLog:
    """The batch lines a service logged (one INFO line per batch) since this object was made."""

    PATTERN = re.compile(r": batch of (\d+):.*? ms=(\{[^}]*\})")

    def __init__(self, platform: BenchPlatform, service: str) -> None:
        self._path = Home(platform.home).log_file(service)
        self._start = self._path.stat().st_size if self._path.exists() else 0

    def batches(self) -> list[tuple[int, dict[str, int]]]:
        """(size, milliseconds per step) of each batch."""
        with self._path.open("rb") as f:
            f.seek(self._start)
            text = f.read().decode("utf-8", "replace")
        return [(int(m.group(1)), ast.literal_eval(m.group(2))) for m in self.PATTERN.finditer(text)]

    def summary(self) -> dict[str, Any]:
        """How many batches, their sizes, and the total milliseconds spent in each step (the
        runner's poll, handle, produce, record, commit): where the time went."""
        batches = self.batches()
        if not batches:
            return {"batches": 0}
        sizes = [size for size, _ in batches]
        steps: dict[str, int] = {}
        for _, ms in batches:
            for step, value in ms.items():
                steps[step] = steps.get(step, 0) + value
        return {
            "batches": len(sizes),
            "mean_size": round(sum(sizes) / len(sizes), 1),
            "max_size": max(sizes),
            "ms_total_per_step": steps,
        }


def flightctl(env: Mapping[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run([*FLIGHTCTL, *args], env=dict(env), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flightctl {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def local_platform(port_base: int, **settings: str) -> Iterator[BenchPlatform]:
    """A whole local platform of its own; ``settings`` are extra environment variables for
    the services (TELEGRAM_BOT_TOKEN, ...). Down and purged at the end, whatever happens."""
    home = Path(tempfile.mkdtemp(prefix="fc-pipe-", dir="/tmp"))
    home.chmod(0o755)  # the postgres user must reach it
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENSKY_", "TELEGRAM_", "FLIGHTCTL_"))},
        "FLIGHTCTL_HOME": str(home),
        "FLIGHTCTL_PORT_BASE": str(port_base),
        # keep the collector away from the real OpenSky and quiet
        "OPENSKY_API_URL": "http://127.0.0.1:9/api",
        "OPENSKY_TOKEN_URL": "http://127.0.0.1:9/token",
        "OPENSKY_MOCK_FALLBACK": "false",
        "COLLECT_INTERVAL_SECONDS": "3600",
        **settings,
    }
    env.pop("API_TOKEN", None)
    started = time.monotonic()
    try:
        print(f"» flightctl up --local (home {home}, port base {port_base})", file=sys.stderr)
        flightctl(env, "up", "--local", "--timeout", "300")
        status = json.loads(flightctl(env, "status", "-o", "json"))
        token = flightctl(env, "auth", "token").strip()
        print(f"» platform up in {time.monotonic() - started:.0f}s", file=sys.stderr)
        yield BenchPlatform(home=home, env=env, status=status, token=token)
    finally:
        keep = os.environ.get("BENCH_KEEP_LOGS")
        if keep:  # the services' logs, for a closer look at where the time went
            shutil.copytree(home / "logs", Path(keep), dirs_exist_ok=True)
            print(f"» service logs copied to {keep}", file=sys.stderr)
        print("» flightctl down --local --purge", file=sys.stderr)
        try:
            flightctl(env, "down", "--local", "--purge")
        finally:
            shutil.rmtree(home, ignore_errors=True)


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5, batch_size=256 * 1024)


def send(p: KafkaProducer, topic: str, value: dict[str, Any], key: str) -> Any:
    return p.send(topic, value=encode(value), key=key.encode())


class Tail:
    """Records of ``topic`` produced after this object was made (no consumer group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
        self._consumer.topics()
        partitions = self._consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_end(*tps)
        for tp in tps:
            self._consumer.position(tp)

    def until(self, keep: Callable[[Any], bool], n: int, timeout: float) -> list[tuple[float, Any]]:
        """(time seen, record) of the first ``n`` records ``keep`` accepts, or fewer at the timeout."""
        deadline = time.monotonic() + timeout
        found: list[tuple[float, Any]] = []
        while len(found) < n and time.monotonic() < deadline:
            for batch in self._consumer.poll(timeout_ms=100).values():
                seen = time.time()
                found.extend((seen, r) for r in batch if keep(r))
        return found

    def close(self) -> None:
        self._consumer.close(autocommit=False)


def machine() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "python": host.python_version(),
        "load_average_1m_at_start": round(load1, 2),
        "load_average_5m_at_start": round(load5, 2),
        "note": "2 cores shared with other engineers' test suites; figures are noisy",
    }


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def write_result(name: str, result: dict[str, Any], path: str | None) -> Path:
    out = Path(path) if path else RESULTS / f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"» wrote {out}", file=sys.stderr)
    return out


def others_running() -> list[str]:
    """The busiest other processes right now (what shares the 2 cores with the benchmark)."""
    done = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True, check=False
    )
    return [" ".join(line.split()) for line in done.stdout.splitlines()[:8]]
