"""A small lab around the real detector: an exporter whose gauges the test sets, a second real
Prometheus scraping it every 200 ms, and a real sla-breach-detector process
(``python -m flightctl.services.sla_breach_detector``) pointed at that Prometheus (through a pass-through
proxy that can hold one query, to make it slow) and at the platform's Kafka. The platform's own
Prometheus scrapes every 5 s, so three samples would take over a minute there; this lab sees
three in a few seconds with the very same code paths.

Ports come from FLIGHTCTL_TEST_PORT_BASE + 2050 to + 2099 (this suite's share of 127.0.0.1)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml
from kafka import KafkaConsumer, TopicPartition

from flightctl.platform.layout import port_in_use
from flightctl.platform.proc import tail, wait_until
from flightctl.services.common.kafka import SLA_BREACH
from tests.conftest import ROOT, TEST_PORT_BASE, Platform
from tests.fakes.http import Exchange, HttpFake

LAB_PORTS = range(TEST_PORT_BASE + 2050, TEST_PORT_BASE + 2100)
SCRAPE_INTERVAL = "200ms"
LAB_TOKEN = "lab-token"


def free_port(taken: set[int]) -> int:
    for port in LAB_PORTS:
        if port not in taken and not port_in_use(port):
            taken.add(port)
            return port
    raise RuntimeError(f"no free port in {LAB_PORTS.start}-{LAB_PORTS.stop - 1}")


class Exporter(HttpFake):
    """Serves gauges in the Prometheus text format; ``set`` changes what the next scrape sees."""

    methods = frozenset({"GET"})

    def __init__(self, port: int) -> None:
        super().__init__(port=port)
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    @property
    def target(self) -> str:
        """The scrape target, ``host:port``."""
        return f"{self.host}:{self.port}"

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._cond:
            self._values[(name, tuple(sorted(labels.items())))] = value

    def render(self) -> str:
        with self._cond:
            items = sorted(self._values.items())
        lines = []
        for (name, labels), value in items:
            shown = ",".join(f'{k}="{v}"' for k, v in labels)
            text = "NaN" if math.isnan(value) else repr(float(value))
            lines.append(f"{name}{{{shown}}} {text}" if shown else f"{name} {text}")
        return "\n".join(lines) + "\n"

    def handle(self, exchange: Exchange) -> None:
        exchange.send(200, self.render().encode(), "text/plain; version=0.0.4")


class SlowProxy(HttpFake):
    """Between the detector and the lab Prometheus: passes every request through, except
    instant queries whose PromQL is held, which wait until released (a slow query)."""

    methods = frozenset({"GET"})
    protocol_version = "HTTP/1.1"

    def __init__(self, port: int, upstream: str) -> None:
        super().__init__(port=port)
        self.upstream = upstream
        self.http = httpx.Client(timeout=10)
        self._held: dict[str, threading.Event] = {}

    @property
    def asked(self) -> dict[str, int]:
        """How many times each instant query (PromQL) was asked; other requests count under ""."""
        return Counter(_instant_query(r.path, r.query) for r in self.received)

    def hold(self, query: str) -> threading.Event:
        """Hold every instant query ``query`` until the returned event is set."""
        gate = threading.Event()
        with self._cond:
            self._held[query] = gate
        return gate

    def release_all(self) -> None:
        with self._cond:
            gates, self._held = list(self._held.values()), {}
        for gate in gates:
            gate.set()

    def handle(self, exchange: Exchange) -> None:
        query = _instant_query(exchange.request.path, exchange.request.query)
        with self._cond:
            gate = self._held.get(query) if query else None
        if gate is not None:
            gate.wait(timeout=30)
        try:
            upstream_response = self.http.get(self.upstream + exchange.request.target)
            status, body = upstream_response.status_code, upstream_response.content
            kind = upstream_response.headers.get("Content-Type", "application/json")
        except httpx.HTTPError as exc:
            status, body, kind = 502, f"upstream unreachable: {exc}".encode(), "text/plain"
        try:
            exchange.send(status, body, kind)
        except OSError:  # the detector gave up on this query already
            exchange.drop()

    def stop(self) -> None:
        self.release_all()
        super().stop()

    def close(self) -> None:
        self.stop()
        self.http.close()


def _instant_query(path: str, query: dict[str, str]) -> str:
    return query.get("query", "") if path == "/api/v1/query" else ""


class LabPrometheus:
    """A real Prometheus (the Debian binary the platform uses) scraping only the exporter."""

    def __init__(self, directory: Path, port: int, target: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log = directory / "prometheus.log"
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL},
            "scrape_configs": [{"job_name": "lab", "static_configs": [{"targets": [target]}]}],
        }
        self.config_file = directory / "prometheus.yml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.command = [
            "/usr/bin/prometheus",
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={directory / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_scraped()

    def launch(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)

    def wait_scraped(self) -> None:
        """Until the exporter has been scraped (Prometheus hands new targets to its scrapers
        about 5 s after start)."""

        def scraped() -> bool:
            try:
                body = httpx.get(f"{self.url}/api/v1/query", params={"query": 'up{job="lab"} == 1'}, timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(body.get("data", {}).get("result"))

        if not wait_until(scraped, 30):
            raise AssertionError(f"the lab Prometheus never scraped the exporter:\n{tail(self.log)}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        assert wait_until(lambda: not port_in_use(self.port), 10), "the lab Prometheus still holds its port"


class Detector:
    """sla-breach-detector as its own process, configured through its environment."""

    def __init__(self, directory: Path, port: int, prometheus_url: str, kafka: str, config: dict[str, Any]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = directory / "sla-config.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = directory / "detector.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "PYTHONUNBUFFERED": "1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "API_TOKEN": LAB_TOKEN,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "PROMETHEUS_URL": prometheus_url,
            "SLA_CONFIG_PATH": str(self.config_path),
            "PROMETHEUS_TIMEOUT_SECONDS": "1",
            # No user-manager in the lab: only the bootstrap token (LAB_TOKEN) is accepted.
            "USER_MANAGER_GRPC_TARGET": "127.0.0.1:1",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {LAB_TOKEN}"}, timeout=10)

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def launch(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flightctl.services.sla_breach_detector"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self) -> None:
        if not wait_until(lambda: self.health_status() == 200, 30):
            raise AssertionError(f"the lab detector never became healthy:\n{tail(self.log, 40)}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health_status(self) -> int | None:
        if not self.alive():
            raise AssertionError(f"the lab detector exited:\n{tail(self.log, 40)}")
        try:
            return self.http.get("/health").status_code
        except httpx.HTTPError:
            return None

    def stats(self) -> dict[str, dict[str, Any]]:
        response = self.http.get("/breach/stats")
        assert response.status_code == 200, response.text
        result: dict[str, dict[str, Any]] = response.json()
        return result

    def checks(self) -> float:
        """sla_checks_total from the detector's own /metrics."""
        for line in self.http.get("/metrics").text.splitlines():
            if line.startswith("sla_checks_total "):
                return float(line.split()[1])
        return 0.0

    def wait_checks(self, count: int, timeout: float = 20) -> None:
        """Wait until ``count`` more checks have completed."""
        target = self.checks() + count
        assert wait_until(lambda: self.checks() >= target, timeout), f"fewer than {count} checks ran"

    def stop(self) -> None:
        self.http.close()  # first: an idle keep-alive connection holds the HTTP server's loop open
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class BreachReader:
    """Reads ``sla_breach`` from the end it had when created (kafka-python, no group)."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            enable_auto_commit=False,
            bootstrap_timeout_ms=10000,
            consumer_timeout_ms=1000,
        )
        partitions = self._consumer.partitions_for_topic(SLA_BREACH) or set()
        assert partitions, "the sla_breach topic does not exist"
        assigned = [TopicPartition(SLA_BREACH, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the end offsets now, before anything is produced
            self._consumer.position(tp)
        self.events: list[tuple[str | None, dict[str, Any]]] = []

    def poll(self) -> list[tuple[str | None, dict[str, Any]]]:
        for records in self._consumer.poll(timeout_ms=300).values():
            for record in records:
                key = record.key.decode() if record.key is not None else None
                self.events.append((key, json.loads(record.value)))
        return self.events

    def of(self, metric: str) -> list[dict[str, Any]]:
        return [value for _, value in self.events if value.get("metric") == metric]

    def close(self) -> None:
        self._consumer.close()


class Lab:
    """The exporter, the lab Prometheus, the slow proxy and the detector, on ports of
    ``LAB_PORTS``, with a config of three metrics unique to this run."""

    def __init__(self, platform: Platform, directory: Path) -> None:
        self.run = uuid.uuid4().hex[:8]
        taken: set[int] = set()
        self.kafka = str(platform.status["kafka"])
        self.exporter = Exporter(free_port(taken)).start()
        self.prometheus = LabPrometheus(directory, free_port(taken), self.exporter.target)
        self.gauge = f"lab_gauge_{self.run}"
        self.nan = f"lab_nan_{self.run}"
        self.absent = f"lab_absent_{self.run}"
        self.config: dict[str, Any] = {
            "metrics": [
                {"name": self.gauge, "type": "gauge", "query": "sla_lab_gauge", "min": 10, "max": 20},
                {"name": self.nan, "type": "gauge", "query": "sla_lab_nan", "min": 0, "max": 1},
                {"name": self.absent, "type": "gauge", "query": "sla_lab_never_exported", "min": 0, "max": 1},
            ],
            "settings": {"t_check": 1},
        }
        for series in ("a", "b", "c"):
            self.exporter.set("sla_lab_gauge", 15, series=series)
        self.exporter.set("sla_lab_nan", math.nan)
        self.proxy = SlowProxy(free_port(taken), self.prometheus.url).start()
        self.detector = Detector(directory, free_port(taken), self.proxy.url, self.kafka, self.config)

    def start(self) -> None:
        # Both start at once: the detector needs no Prometheus to start, only to be healthy.
        self.prometheus.launch()
        self.detector.launch()
        self.prometheus.wait_scraped()
        self.detector.wait_healthy()

    def close(self) -> None:
        try:
            self.proxy.release_all()
            self.detector.stop()
        finally:
            try:
                self.prometheus.stop()
            finally:
                self.proxy.close()
                self.exporter.stop()
