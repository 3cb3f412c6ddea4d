"""user-manager: wiring (create_app) and the process entry point (settings: settings.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from flightctl.services.common import auth, db
from flightctl.services.common.clock import utcnow
from flightctl.services.common.grpcutil import (
    DEFAULT_DEADLINE_SECONDS,
    GrpcServer,
    check_health,
    make_channel,
)
from flightctl.services.common.http import THREADS as HTTP_THREADS
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.pb import data_collector_pb2_grpc, user_pb2, user_pb2_grpc
from flightctl.services.common.runtime import BackgroundLoop, Component, OnStop, serve
from flightctl.services.user_manager import api, idempotency, linking, service, tokens
from flightctl.services.user_manager.grpc_service import UserServicer
from flightctl.services.user_manager.metrics import UserMetrics
from flightctl.services.user_manager.settings import Settings

NAME = Settings.SERVICE
VERSIONS = Path(__file__).with_name("migrations") / "versions"
LINK_CODE_GRACE = timedelta(days=1)


@dataclasses.dataclass
class UserManager:
    """Everything the process runs, built by create_app."""

    app: Flask
    components: list[Component]


def create_app(settings: Settings, now: Callable[[], datetime] = utcnow) -> UserManager:
    engine = db.make_engine(settings.database_url)
    db.migrate(engine, VERSIONS)
    factory = db.make_session_factory(engine)
    read_engine = db.make_read_engine(settings.database_url, pool_size=HTTP_THREADS)
    registry = CollectorRegistry()
    metrics = UserMetrics(registry)
    channel = make_channel(settings.data_collector_grpc_target)
    collector = data_collector_pb2_grpc.DataCollectorServiceStub(channel)

    def remove_interests(email: str) -> int:
        answer = collector.DeleteUserInterests(user_pb2.UserRequest(email=email), timeout=DEFAULT_DEADLINE_SECONDS)
        return int(answer.deleted_count)

    def drain() -> None:
        service.drain_outbox(factory, remove_interests, now, timedelta(seconds=settings.outbox_retry_seconds))
        with db.transaction(factory) as session:
            metrics.outbox_backlog.set(service.outbox_backlog(session))

    outbox = BackgroundLoop("interest-deletion-outbox", settings.outbox_retry_seconds, drain)
    cleanup = BackgroundLoop(
        "idempotency-key-cleanup",
        min(3600.0, settings.idempotency_ttl_seconds / 4),
        lambda: idempotency.purge_expired(factory, now()),
    )
    link_cleanup = BackgroundLoop(
        "telegram-link-code-cleanup",
        3600.0,
        lambda: linking.purge_link_codes(factory, now() - LINK_CODE_GRACE),
    )

    def health() -> dict[str, str | None]:
        return {
            "database": db.ping(engine),
            "data-collector": check_health(channel),
            "outbox-worker": None if outbox.is_alive() else "not running",
        }

    def find_token(token_digest: str) -> auth.Principal | None:
        try:
            with db.transaction(factory) as session:
                return tokens.authenticate(session, token_digest, now())
        except SQLAlchemyError:
            raise auth.StoreUnavailable("the database did not answer") from None

    reads = db.Reads(read_engine)  # the HTTP one-user read and gRPC CheckUserExists
    token_lookup = auth.CachedLookup(find_token)
    app = create_http_app(NAME, api_token=settings.api_token, registry=registry, health=health, tokens=token_lookup)
    app.register_blueprint(
        api.blueprint(
            factory,
            ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
            now=now,
            metrics=metrics,
            on_delete=outbox.wake,
            reads=reads,
            link_ttl=timedelta(seconds=settings.telegram_link_ttl_seconds),
            on_revoke=token_lookup.forget,
        )
    )
    grpc_server = GrpcServer(
        settings.grpc_host,
        settings.grpc_port,
        [
            (
                user_pb2_grpc.add_UserServiceServicer_to_server,
                UserServicer(factory, now=now, reads=reads),
                "flightctl.user.v1.UserService",
            )
        ],
    )
    http = HttpServer(app, settings.http_host, settings.http_port)
    resources = OnStop(channel.close, engine.dispose, read_engine.dispose)
    return UserManager(app=app, components=[resources, grpc_server, outbox, cleanup, link_cleanup, http])


def main() -> None:
    serve(NAME, Settings, lambda settings, _stop: create_app(settings).components)
