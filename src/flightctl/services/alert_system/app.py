"""alert-system: settings, wiring and the process entry point. HTTP only for /ping, /health and
/metrics."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from flightctl.services.alert_system import faults
from flightctl.services.alert_system.metrics import AlertMetrics
from flightctl.services.alert_system.service import AlertEvaluator, purge_processed
from flightctl.services.common import db
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import TO_ALERT_SYSTEM, KafkaRunner, broker_reachable, make_producer
from flightctl.services.common.metrics import KafkaMetrics
from flightctl.services.common.runtime import (
    BackgroundLoop,
    Component,
    OnStop,
    load_settings,
    run_until_signalled,
)
from flightctl.services.common.settings import (
    BaseSettings,
    DatabaseSettings,
    KafkaSettings,
    env,
    non_negative,
    optional,
    positive,
)

NAME = "alert-system"
VERSIONS = Path(__file__).with_name("migrations") / "versions"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaSettings):
    alert_repeat_seconds: int = env("ALERT_REPEAT_SECONDS", 3600, parse=non_negative(int))
    kafka_group_id: str = env("KAFKA_GROUP_ID", "alert-system")
    kafka_session_timeout_ms: int = env(
        "KAFKA_SESSION_TIMEOUT_MS",
        10000,
        parse=positive(int),
        help="how soon the group gives a crashed instance's partitions to the others (broker minimum 6000)",
    )
    processed_event_retention_days: int = env("PROCESSED_EVENT_RETENTION_DAYS", 7, parse=non_negative(int))
    fault_inject: str | None = env(
        "FLIGHTCTL_FAULT_INJECT",
        None,
        parse=optional(faults.parse),
        help="tests only: alert-system:<point> crashes the process there (see faults.py)",
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    producer = make_producer(settings.kafka_bootstrap_servers, NAME)
    runner = KafkaRunner(
        name=NAME,
        bootstrap=settings.kafka_bootstrap_servers,
        group_id=settings.kafka_group_id,
        topics=[TO_ALERT_SYSTEM],
        handler=faults.with_crash_point(evaluator.handle, settings.fault_inject),
        producer=producer,
        metrics=KafkaMetrics(registry),
        session_timeout_ms=settings.kafka_session_timeout_ms,
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
    settings = load_settings(NAME, Settings)

    def build(_stop: threading.Event) -> list[Component]:
        return create_app(settings).components

    run_until_signalled(NAME, build)
