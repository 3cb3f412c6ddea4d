"""alert-notifier: wiring (create_app) and the process entry point (settings: settings.py)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from flightctl.services.alert_notifier import api
from flightctl.services.alert_notifier.consumer import MAX_BATCH, TOPICS, make_handler
from flightctl.services.alert_notifier.linking import BotProfile, LinkBot, UpdatePoller
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.service import Dispatcher, Notifier
from flightctl.services.alert_notifier.settings import Settings
from flightctl.services.alert_notifier.store import SqlDeliveryStore, SqlUpdateOffset
from flightctl.services.alert_notifier.telegram import RateLimiter, RetryPolicy, TelegramSender, redactor
from flightctl.services.alert_notifier.users import ChatDirectory, grpc_fetch, grpc_link
from flightctl.services.common import db
from flightctl.services.common.clock import utcnow
from flightctl.services.common.grpcutil import check_health, make_channel
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import KafkaRunner, broker_reachable, connect_producer
from flightctl.services.common.locks import AdvisoryLock
from flightctl.services.common.metrics import KafkaMetrics
from flightctl.services.common.pb import user_pb2_grpc
from flightctl.services.common.runtime import Component, OnStop, serve
from flightctl.services.common.token_client import cached_grpc_lookup

log = logging.getLogger(__name__)
NAME = Settings.SERVICE
SEND_WORKERS = 4
"""Chats sent to at once (PTB's connection pool has 4 connections); the rate limiter keeps
Telegram's limits whatever the number."""
VERSIONS = Path(__file__).with_name("migrations") / "versions"


@dataclasses.dataclass
class AlertNotifier:
    """Everything the process runs, built by create_app."""

    app: Flask
    notifier: Notifier
    runner: KafkaRunner
    sender: TelegramSender | None
    poller: UpdatePoller | None
    components: list[Component]


def create_app(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    now: Callable[[], datetime] = utcnow,
    clock: Callable[[], float] = time.monotonic,
) -> AlertNotifier:
    """Wire the service. ``stop`` (the process's stop event) cuts Telegram retry waits short;
    it is set when the components stop anyway."""
    stop = stop if stop is not None else threading.Event()
    engine = db.make_engine(settings.database_url, pool_size=4)
    db.migrate(engine, VERSIONS)
    factory = db.make_session_factory(engine)
    registry = CollectorRegistry()
    metrics = NotifierMetrics(registry)
    channel = make_channel(settings.user_manager_grpc_target)
    stub = user_pb2_grpc.UserServiceStub(channel)
    directory = ChatDirectory(grpc_fetch(stub), clock=clock)

    sender: TelegramSender | None = None
    if settings.telegram_bot_token:
        policy = RetryPolicy(
            max_attempts=settings.telegram_max_attempts,
            sleep=stop.wait,
            clock=clock,
            limiter=RateLimiter(clock=clock, sleep=stop.wait),
            metrics=metrics,
            redact=redactor(settings.telegram_bot_token),
        )
        sender = TelegramSender(
            token=settings.telegram_bot_token,
            api_url=settings.telegram_api_url,
            policy=policy,
            timeout=settings.telegram_timeout_seconds,
        )
    else:
        log.warning("TELEGRAM_BOT_TOKEN is not set: every delivery is recorded as skipped")

    # Deep-link linking: answer "/start CODE" (only with a bot token).
    poller: UpdatePoller | None = None
    profile = BotProfile(None)
    if sender is not None:
        bot = LinkBot(link=grpc_link(stub), send=sender.send, metrics=metrics, linked=directory.forget)
        leadership = db.Leadership(engine, AdvisoryLock.TELEGRAM_UPDATES)
        poller = UpdatePoller(
            fetch=sender.get_updates,
            handle=bot.handle,
            clock=clock,
            redact=sender.redact,
            leader=leadership.held,
            release=leadership.release,
            offsets=SqlUpdateOffset(factory),
        )
        profile = BotProfile(sender.username, clock=clock, redact=sender.redact)

    dispatcher = Dispatcher(workers=SEND_WORKERS)
    notifier = Notifier(
        store=SqlDeliveryStore(factory),
        directory=directory,
        sender=sender,
        admin_email=settings.admin_email,
        metrics=metrics,
        now=now,
        dispatcher=dispatcher,
    )
    producer = connect_producer(settings.kafka_bootstrap_servers, NAME)  # dead letters only
    runner = KafkaRunner(
        name=NAME,
        bootstrap=settings.kafka_bootstrap_servers,
        group_id=settings.kafka_group_id or NAME,
        topics=TOPICS,
        handler=make_handler(notifier),
        producer=producer,
        metrics=KafkaMetrics(registry),
        max_batch=MAX_BATCH,
    )

    def health() -> dict[str, str | None]:
        # Telegram is external and deliveries wait for it: never a reason to be unhealthy.
        return {
            "database": db.ping(engine),
            "kafka": runner.healthy() or broker_reachable(settings.kafka_bootstrap_servers),
            "user-manager": check_health(channel),
        }

    app = create_http_app(
        NAME, api_token=settings.api_token, registry=registry, health=health, tokens=cached_grpc_lookup(channel)
    )
    app.register_blueprint(api.blueprint(factory, profile))
    http = HttpServer(app, settings.http_host, settings.http_port, threads=4)
    resources = OnStop(lambda: producer.close(timeout=10), channel.close, engine.dispose)
    components: list[Component] = [resources]
    if sender is not None:
        components.append(sender)
    # Stopped in reverse order: first wake any retry wait, then the consumer, the update
    # poller (its long poll is cancelled), HTTP, the bot.
    components.append(http)
    if poller is not None:
        components.append(poller)
    components += [dispatcher, runner, OnStop(stop.set)]
    return AlertNotifier(app=app, notifier=notifier, runner=runner, sender=sender, poller=poller, components=components)


def main() -> None:
    serve(NAME, Settings, lambda settings, stop: create_app(settings, stop=stop).components)
