"""sla-breach-detector: wiring (create_app) and the process entry point (settings: settings.py)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from flightctl.services.common.clock import utcnow
from flightctl.services.common.grpcutil import make_channel
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import SLA_BREACH, Outgoing, broker_reachable, make_producer, send_all
from flightctl.services.common.runtime import Component, OnStop, serve
from flightctl.services.common.token_client import cached_grpc_lookup
from flightctl.services.sla_breach_detector import api
from flightctl.services.sla_breach_detector.config import ConfigStore, SlaConfig, load_config_file
from flightctl.services.sla_breach_detector.metrics import SlaMetrics
from flightctl.services.sla_breach_detector.prometheus import PrometheusClient
from flightctl.services.sla_breach_detector.sampler import BreachStats, Sampler
from flightctl.services.sla_breach_detector.scheduler import Scheduler
from flightctl.services.sla_breach_detector.settings import Settings
from flightctl.services.sla_breach_detector.window import BreachWindows

NAME = Settings.SERVICE


@dataclasses.dataclass
class SlaBreachDetector:
    """Everything the process runs, built by create_app."""

    app: Flask
    store: ConfigStore
    sampler: Sampler
    scheduler: Scheduler
    stats: BreachStats
    prometheus: PrometheusClient
    components: list[Component]


def create_app(
    settings: Settings,
    now: Callable[[], datetime] = utcnow,
    clock: Callable[[], float] = time.monotonic,
) -> SlaBreachDetector:
    # The file first: a missing or invalid config stops the process before anything connects.
    # Only its structure is checked here; Prometheus may not be up yet.
    config_path = Path(settings.sla_config_path)
    store = ConfigStore(config_path, load_config_file(config_path))
    registry = CollectorRegistry()
    metrics = SlaMetrics(registry)
    prometheus = PrometheusClient(settings.prometheus_url, settings.prometheus_timeout_seconds)
    # Made on first use, not here: the broker may not be reachable yet at start (a first deploy),
    # and a publish that cannot connect fails like any failed publish, retried next check.
    producer = LazyProducer(lambda: make_producer(settings.kafka_bootstrap_servers, NAME))

    def publish(events: Sequence[dict[str, Any]]) -> int:
        return send_all(producer.get(), [Outgoing(SLA_BREACH, event["metric"], event) for event in events])

    stats = BreachStats()
    stats.track(store.current())
    sampler = Sampler(
        config=store.current,
        query=prometheus.query,
        publish=publish,
        windows=BreachWindows(clock),
        stats=stats,
        metrics=metrics,
        now=now,
        # The HTTP timeout bounds each call; the deadline also bounds a server that trickles.
        query_deadline=settings.prometheus_timeout_seconds + 1.0,
    )
    scheduler = Scheduler("sla-checks", lambda: store.current().t_check, sampler.run_check, clock=clock)

    def on_change(config: SlaConfig) -> None:
        stats.track(config)
        scheduler.wake()

    store.subscribe(on_change)

    def health() -> dict[str, str | None]:
        return {
            "scheduler": None if scheduler.is_alive() else "not running",
            "prometheus": prometheus.ready(),
            "kafka": broker_reachable(settings.kafka_bootstrap_servers),
        }

    channel = make_channel(settings.user_manager_grpc_target)  # scoped API tokens are looked up there
    app = create_http_app(
        NAME, api_token=settings.api_token, registry=registry, health=health, tokens=cached_grpc_lookup(channel)
    )
    app.register_blueprint(api.blueprint(store, stats, prometheus))
    http = HttpServer(app, settings.http_host, settings.http_port)
    resources = OnStop(sampler.close, prometheus.close, lambda: producer.close(timeout=10), channel.close)
    return SlaBreachDetector(
        app=app,
        store=store,
        sampler=sampler,
        scheduler=scheduler,
        stats=stats,
        prometheus=prometheus,
        components=[resources, scheduler, http],
    )


class LazyProducer:
    """The Kafka producer, made when first needed: ``get()`` raises the factory's error (e.g.
    KafkaTimeoutError while no broker answers) and tries again on the next call."""

    def __init__(self, factory: Callable[[], KafkaProducer]) -> None:
        self._factory = factory
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = self._factory()
            return self._producer

    def close(self, timeout: float | None = None) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=timeout)


def main() -> None:
    serve(NAME, Settings, lambda settings, _stop: create_app(settings).components)
