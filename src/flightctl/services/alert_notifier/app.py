"""alert-notifier: settings, wiring (create_app) and the process entry point."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from flightctl.services.alert_notifier import api
from flightctl.services.alert_notifier.consumer import TOPICS, make_handler
from flightctl.services.alert_notifier.linking import UPDATES_LOCK_KEY, BotProfile, LinkBot, UpdatePoller
from flightctl.services.alert_notifier.metrics import NotifierMetrics
from flightctl.services.alert_notifier.service import Notifier
from flightctl.services.alert_notifier.store import SqlDeliveryStore, SqlUpdateOffset
from flightctl.services.alert_notifier.telegram import RateLimiter, RetryPolicy, TelegramSender, redactor
from flightctl.services.alert_notifier.users import ChatDirectory, grpc_fetch, grpc_link
from flightctl.services.common import db
from flightctl.services.common.grpcutil import check_health, make_channel
from flightctl.services.common.http import HttpServer, create_http_app
from flightctl.services.common.kafka import KafkaRunner, broker_reachable, make_producer
from flightctl.services.common.metrics import KafkaMetrics
from flightctl.services.common.pb import user_pb2_grpc
from flightctl.services.common.runtime import Component, OnStop, load_settings, run_until_signalled
from flightctl.services.common.settings import (
    BaseSettings,
    DatabaseSettings,
    KafkaSettings,
    env,
    optional,
    positive,
    url,
)

log = logging.getLogger(__name__)
NAME = "alert-notifier"
VERSIONS = Path(__file__).with_name("migrations") / "versions"
_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


def bot_token(raw: str) -> str:
    token = raw.strip()
    if not _TOKEN.fullmatch(token):
        raise ValueError("expected a bot token like <digits>:<secret>")  # never echo it
    return token


def email(raw: str) -> str:
    value = raw.strip()
    if "@" not in value:
        raise ValueError("expected an email address")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaSettings):
    user_manager_grpc_target: str = env("USER_MANAGER_GRPC_TARGET")
    telegram_bot_token: str | None = env(
        "TELEGRAM_BOT_TOKEN",
        None,
        parse=optional(bot_token),
        secret=True,
        help="unset: every delivery is recorded as skipped",
    )
    telegram_api_url: str = env("TELEGRAM_API_URL", "https://api.telegram.org", parse=url)
    telegram_max_attempts: int = env(
        "TELEGRAM_MAX_ATTEMPTS",
        5,
        parse=positive(int),
        help="Telegram calls per consumption of an event before it is retried later",
    )
    telegram_timeout_seconds: float = env("TELEGRAM_TIMEOUT_SECONDS", 10.0, parse=positive(float))
    admin_email: str = env(
        "ADMIN_EMAIL", "mario.rossi@gmail.com", parse=email, help="the user whose Telegram chat receives SLA breaches"
    )
    kafka_group_id: str = env("KAFKA_GROUP_ID", "alert-notifier")


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        leadership = db.Leadership(engine, UPDATES_LOCK_KEY)
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

    notifier = Notifier(
        store=SqlDeliveryStore(factory),
        directory=directory,
        sender=sender,
        admin_email=settings.admin_email,
        metrics=metrics,
        now=now,
    )
    producer = make_producer(settings.kafka_bootstrap_servers, NAME)  # dead letters only
    runner = KafkaRunner(
        name=NAME,
        bootstrap=settings.kafka_bootstrap_servers,
        group_id=settings.kafka_group_id,
        topics=TOPICS,
        handler=make_handler(notifier),
        producer=producer,
        metrics=KafkaMetrics(registry),
    )

    def health() -> dict[str, str | None]:
        # Telegram is external and deliveries wait for it: never a reason to be unhealthy.
        return {
            "database": db.ping(engine),
            "kafka": runner.healthy() or broker_reachable(settings.kafka_bootstrap_servers),
            "user-manager": check_health(channel),
        }

    app = create_http_app(NAME, api_token=settings.api_token, registry=registry, health=health)
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
    components += [runner, OnStop(stop.set)]
    return AlertNotifier(app=app, notifier=notifier, runner=runner, sender=sender, poller=poller, components=components)


def main() -> None:
    settings = load_settings(NAME, Settings)

    def build(stop: threading.Event) -> list[Component]:
        return create_app(settings, stop=stop).components

    run_until_signalled(NAME, build)
