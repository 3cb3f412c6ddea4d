"""alert-system: wiring and the process entry point (settings: settings.py). HTTP only for /ping,
/health and /metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from flightctl.services.alert_system import faults
from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.alert_system.service import AlertEvaluator, purge_processed
from flightctl.services.alert_system.settings import Settings
from flightctl.services.common import db
from flightctl.services.common.clock import utcnow
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, KafkaRunner, broker_reachable, connect_producer
from flightctl.services.common.metrics import KafkaMetrics
from flightctl.services.common.runtime import BackgroundLoop, Component, OnStop, serve

NAME = Settings.SERVICE
VERSIONS = Path(__file__).with_name("migrations") / "versions"
MAX_BATCH = 1000
"""Readings per poll: each batch costs a fixed few round trips (fetch, two transactions, one
flush, one offset commit), so a backlog drains in large batches; a quiet topic gives small ones."""


@dataclasses.dataclass
class AlertSystem:
    app: Flask
    runner: KafkaRunner
    components: list[Component]


def create_app(settings: Settings, now: Callable[[], datetime] = utcnow) -> AlertSystem:
    engine = db.make_engine(settings.database_url, pool_size=4)
    db.migrate(engine, VERSIONS)
    factory = db.make_session_factory(engine)
    registry = CollectorRegistry()
    evaluator = AlertEvaluator(
        factory,
        repeat=timedelta(seconds=settings.alert_repeat_seconds),
        now=now,
        metrics=AlertMetrics(registry),
    )
    producer = connect_producer(settings.kafka_bootstrap_servers, NAME)
    runner = KafkaRunner(
        name=NAME,
        bootstrap=settings.kafka_bootstrap_servers,
        group_id=settings.kafka_group_id or NAME,
        topics=[TO_ALERT_SYSTEM],
        handler=faults.with_crash_point(evaluator.handle, settings.fault_inject),
        producer=faults.with_crashing_producer(producer, settings.fault_inject),
        metrics=KafkaMetrics(registry),
        session_timeout_ms=settings.kafka_session_timeout_ms,
        max_batch=MAX_BATCH,
    )
    retention = timedelta(days=settings.processed_event_retention_days)
    cleanup = BackgroundLoop("processed-event-cleanup", 3600, lambda: purge_processed(factory, now() - retention))

    def health() -> dict[str, str | None]:
        return {
            "database": db.ping(engine),
            "kafka": runner.healthy() or broker_reachable(settings.kafka_bootstrap_servers),
        }

    app = create_http_app(NAME, api_token=settings.api_token, registry=registry, health=health)
    http = HttpServer(app, settings.http_host, settings.http_port, threads=4)
    resources = OnStop(lambda: producer.close(timeout=10), engine.dispose)
    return AlertSystem(app=app, runner=runner, components=[resources, http, cleanup, runner])


def main() -> None:
    serve(NAME, Settings, lambda settings, _stop: create_app(settings).components)
