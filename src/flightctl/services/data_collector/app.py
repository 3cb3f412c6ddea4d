"""data-collector: settings, wiring (create_app) and the process entry point."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import airportsdata
import grpc
from flask import Flask
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from flightctl.services.common import db
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
    parse_bool,
    parse_port,
    positive,
    url,
)
from flightctl.services.data_collector import api
from flightctl.services.data_collector.collector import Collector
from flightctl.services.data_collector.grpc_service import DataCollectorServicer
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.opensky import Circuit, OpenSkyClient

log = logging.getLogger(__name__)
NAME = "data-collector"
VERSIONS = Path(__file__).with_name("migrations") / "versions"


def _window_hours(raw: str) -> int:
    hours = int(raw)
    if not 1 <= hours <= 48:
        raise ValueError("must be from 1 to 48 (OpenSky allows at most 48 hours)")
    return hours


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaSettings):
    grpc_host: str = env("GRPC_HOST", "0.0.0.0")
    grpc_port: int = env("GRPC_PORT", 50051, parse=parse_port)
    user_manager_grpc_target: str = env("USER_MANAGER_GRPC_TARGET")
    opensky_api_url: str = env("OPENSKY_API_URL", "https://opensky-network.org/api", parse=url)
    opensky_token_url: str = env(
        "OPENSKY_TOKEN_URL",
        "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token",
        parse=url,
    )
    opensky_client_id: str | None = env("OPENSKY_CLIENT_ID", None, parse=optional(str))
    opensky_client_secret: str | None = env("OPENSKY_CLIENT_SECRET", None, parse=optional(str), secret=True)
    opensky_timeout_seconds: float = env("OPENSKY_TIMEOUT_SECONDS", 15.0, parse=positive(float))
    opensky_mock_fallback: bool = env("OPENSKY_MOCK_FALLBACK", True, parse=parse_bool)
    collect_interval_seconds: float = env("COLLECT_INTERVAL_SECONDS", 300.0, parse=positive(float))
    collect_window_hours: int = env("COLLECT_WINDOW_HOURS", 24, parse=_window_hours)
    collect_pool_size: int = env("COLLECT_POOL_SIZE", 4, parse=positive(int))
    circuit_fail_max: int = env("CIRCUIT_FAIL_MAX", 5, parse=positive(int))
    circuit_reset_seconds: float = env("CIRCUIT_RESET_SECONDS", 60.0, parse=non_negative(float))
    flight_retention_days: int = env("FLIGHT_RETENTION_DAYS", 30, parse=positive(int))


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    settings = load_settings(NAME, Settings)

    def build(_stop: threading.Event) -> list[Component]:
        return create_app(settings).components

    run_until_signalled(NAME, build)
