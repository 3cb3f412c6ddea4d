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
from flightctl.services.common.errors import Unavailable
from flightctl.services.common.grpcutil import (
    DEFAULT_DEADLINE_SECONDS,
    GrpcServer,
    check_health,
    make_channel,
)
from flightctl.services.common.http import THREADS as HTTP_THREADS
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import Outgoing, broker_reachable, connect_producer, send_all
from flightctl.services.common.pb import data_collector_pb2_grpc, user_pb2, user_pb2_grpc
from flightctl.services.common.runtime import BackgroundLoop, Component, OnStop, serve
from flightctl.services.common.token_client import cached_grpc_lookup
from flightctl.services.data_collector import api
from flightctl.services.data_collector.collector import Collector, step
from flightctl.services.data_collector.grpc_service import DataCollectorServicer
from flightctl.services.data_collector.ledger import Ledger
from flightctl.services.data_collector.live import LiveTrafficWatch
from flightctl.services.data_collector.metrics import CollectorMetrics
from flightctl.services.data_collector.opensky import Circuit, OpenSkyClient
from flightctl.services.data_collector.settings import ANONYMOUS_CREDITS, STANDARD_CREDITS, Settings

log = logging.getLogger(__name__)
NAME = Settings.SERVICE
VERSIONS = Path(__file__).with_name("migrations") / "versions"


@dataclasses.dataclass
class DataCollector:
    app: Flask
    collector: Collector
    live: LiveTrafficWatch
    components: list[Component]


def credits_per_day(settings: Settings) -> int:
    """OPENSKY_CREDITS_PER_DAY, else what the account kind gets: standard with credentials."""
    if settings.opensky_credits_per_day is not None:
        return settings.opensky_credits_per_day
    return STANDARD_CREDITS if settings.opensky_client_id and settings.opensky_client_secret else ANONYMOUS_CREDITS


def live_tick(interval: float) -> float:
    """How often the live loop looks whether a round is due: a quarter of the interval, 1 to 15 s."""
    return max(1.0, min(15.0, interval / 4))


def create_app(settings: Settings, now: Callable[[], datetime] = utcnow) -> DataCollector:
    engine = db.make_engine(settings.database_url)
    db.migrate(engine, VERSIONS)
    factory = db.make_session_factory(engine)
    read_engine = db.make_read_engine(settings.database_url, pool_size=HTTP_THREADS)
    registry = CollectorRegistry()
    metrics = CollectorMetrics(registry)
    airports = airportsdata.load("ICAO")
    channel = make_channel(settings.user_manager_grpc_target)
    users = user_pb2_grpc.UserServiceStub(channel)

    def user_exists(email: str) -> Callable[[], bool]:
        """Sends CheckUserExists now (gRPC's own future, no thread); the call returned waits for it."""
        pending = users.CheckUserExists.future(user_pb2.UserRequest(email=email), timeout=DEFAULT_DEADLINE_SECONDS)

        def answer() -> bool:
            try:
                return bool(pending.result().exists)
            except grpc.RpcError as exc:
                raise Unavailable(f"user-manager could not be reached to check the user ({exc.code().name})") from None  # type: ignore[attr-defined]

        return answer

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
    producer = connect_producer(settings.kafka_bootstrap_servers, NAME)

    def publish(messages: Sequence[Outgoing]) -> int:
        try:
            return send_all(producer, messages)
        except KafkaError as exc:
            raise Unavailable(f"Kafka did not acknowledge the messages ({type(exc).__name__})") from None

    ledger = Ledger(
        factory,
        credits_per_day(settings),
        settings.opensky_credit_reserve_percent,
        on_spend=lambda family, cost: metrics.credits_used.labels(family).inc(cost),
    )
    live = LiveTrafficWatch(
        factory=factory,
        client=client,
        publish=publish,
        ledger=ledger,
        metrics=metrics,
        now=now,
        coordinates={code: (float(a["lat"]), float(a["lon"])) for code, a in airports.items()},
        interval=settings.live_interval_seconds,
        radius_km=settings.live_radius_km,
        max_altitude_m=settings.live_max_altitude_m,
        mock_fallback=settings.opensky_live_mock_fallback,
    )
    collector = Collector(
        engine=engine,
        factory=factory,
        client=client,
        publish=publish,
        metrics=metrics,
        now=now,
        ledger=ledger,
        batch_delay=timedelta(hours=settings.opensky_batch_delay_hours),
        history_days=settings.collect_history_days,
        retention=timedelta(days=settings.flight_retention_days),
        mock_fallback=settings.opensky_mock_fallback,
        pool_size=settings.collect_pool_size,
        live=live,
    )
    log.info(
        "OpenSky credits: %d a day per family, %.0f%% kept in reserve",
        ledger.per_day,
        settings.opensky_credit_reserve_percent,
    )
    schedule = BackgroundLoop("collector", settings.collect_interval_seconds, step(collector))
    live_loop = BackgroundLoop("live", live_tick(settings.live_interval_seconds), live.step)

    def health() -> dict[str, str | None]:
        return {
            "database": db.ping(engine),
            "kafka": broker_reachable(settings.kafka_bootstrap_servers),
            "user-manager": check_health(channel),
            "collector": None if schedule.is_alive() else "not running",
            "live": None if live_loop.is_alive() else "not running",
        }

    app = create_http_app(
        NAME, api_token=settings.api_token, registry=registry, health=health, tokens=cached_grpc_lookup(channel)
    )
    app.register_blueprint(
        api.blueprint(
            factory,
            airports=airports,
            user_exists=user_exists,
            collector=collector,
            now=now,
            reads=db.Reads(read_engine),
        )
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
    resources = OnStop(
        lambda: producer.close(timeout=10), client.close, channel.close, engine.dispose, read_engine.dispose
    )
    return DataCollector(
        app=app, collector=collector, live=live, components=[resources, grpc_server, http, schedule, live_loop]
    )


def main() -> None:
    serve(NAME, Settings, lambda settings, _stop: create_app(settings).components)
