"""data-collector: wiring (create_app) and the process entry point (settings: settings.py)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import airportsdata
import grpc
from flask import Flask
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from flightctl.services.common import db
from flightctl.services.common.clock import utcnow
from flightctl.services.common.errors import Conflict, Unavailable
from flightctl.services.common.grpcutil import (
    DEFAULT_DEADLINE_SECONDS,
    GrpcServer,
    check_health,
    make_channel,
)
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import Outgoing, broker_reachable, make_producer, send_all
from flightctl.services.common.pb import data_collector_pb2_grpc, user_pb2, user_pb2_grpc
from flightctl.services.common.runtime import BackgroundLoop, Component, OnStop, serve
from flightctl.services.data_collector import api
from flightctl.services.data_collector.collector import Collector
from flightctl.services.data_collector.grpc_service import DataCollectorServicer
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.opensky import Circuit, OpenSkyClient
from flightctl.services.data_collector.settings import Settings

log = logging.getLogger(__name__)
NAME = Settings.SERVICE
VERSIONS = Path(__file__).with_name("migrations") / "versions"


@dataclasses.dataclass
class DataCollector:
    app: Flask
    collector: Collector
    components: list[Component]


def create_app(settings: Settings, now: Callable[[], datetime] = utcnow) -> DataCollector:
    engine = db.make_engine(settings.database_url)
    db.migrate(engine, VERSIONS)
    factory = db.make_session_factory(engine)
    registry = CollectorRegistry()
    metrics = CollectorMetrics(registry)
    airports = airportsdata.load("ICAO")
    channel = make_channel(settings.user_manager_grpc_target)
    users = user_pb2_grpc.UserServiceStub(channel)

    def user_exists(email: str) -> bool:
        try:
            answer = users.CheckUserExists(user_pb2.UserRequest(email=email), timeout=DEFAULT_DEADLINE_SECONDS)
        except grpc.RpcError as exc:
            raise Unavailable(f"user-manager could not be reached to check the user ({exc.code().name})") from None  # type: ignore[attr-defined]
        return bool(answer.exists)

    circuit = Circuit(settings.circuit_fail_max, settings.circuit_reset_seconds)
    client = OpenSkyClient(
        api_url=settings.opensky_api_url,
        token_url=settings.opensky_token_url,
        client_id=settings.opensky_client_id,
        client_secret=settings.opensky_client_secret,
        circuit=circuit,
        timeout=settings.opensky_timeout_seconds,
        on_remaining=metrics.rate_limit_remaining.set,
        on_call=lambda outcome: metrics.opensky_calls.labels(outcome).inc(),
    )
    metrics.breaker_open.set_function(lambda: 1.0 if circuit.state == "open" else 0.0)
    producer = make_producer(settings.kafka_bootstrap_servers, NAME)

    def publish(messages: Sequence[Outgoing]) -> int:
        try:
            return send_all(producer, messages)
        except KafkaError as exc:
            raise Unavailable(f"Kafka did not acknowledge the messages ({type(exc).__name__})") from None

    collector = Collector(
        engine=engine,
        factory=factory,
        client=client,
        publish=publish,
        airport_codes=sorted(airports),
        metrics=metrics,
        now=now,
        window=timedelta(hours=settings.collect_window_hours),
        retention=timedelta(days=settings.flight_retention_days),
        mock_fallback=settings.opensky_mock_fallback,
        pool_size=settings.collect_pool_size,
    )

    def scheduled_cycle() -> None:
        try:
            collector.run_cycle()
        except Conflict:
            log.info("skipping the scheduled cycle: another process is collecting right now")

    schedule = BackgroundLoop("collector", settings.collect_interval_seconds, scheduled_cycle)

    def health() -> dict[str, str | None]:
        return {
            "database": db.ping(engine),
            "kafka": broker_reachable(settings.kafka_bootstrap_servers),
            "user-manager": check_health(channel),
            "collector": None if schedule.is_alive() else "not running",
        }

    app = create_http_app(NAME, api_token=settings.api_token, registry=registry, health=health)
    app.register_blueprint(
        api.blueprint(factory, airports=airports, user_exists=user_exists, collector=collector, now=now)
    )
    grpc_server = GrpcServer(
        settings.grpc_host,
        settings.grpc_port,
        [
            (
                data_collector_pb2_grpc.add_DataCollectorServiceServicer_to_server,
                DataCollectorServicer(factory),
                "flightctl.datacollector.v1.DataCollectorService",
            )
        ],
    )
    http = HttpServer(app, settings.http_host, settings.http_port)
    resources = OnStop(lambda: producer.close(timeout=10), client.close, channel.close, engine.dispose)
    return DataCollector(app=app, collector=collector, components=[resources, grpc_server, http, schedule])


def main() -> None:
    serve(NAME, Settings, lambda settings, _stop: create_app(settings).components)
