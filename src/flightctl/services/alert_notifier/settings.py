"""alert-notifier's settings (light: importable without Flask, SQLAlchemy, Kafka or Telegram)."""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from flightctl.services.common.settings import (
    BaseSettings,
    DatabaseSettings,
    KafkaConsumerSettings,
    UserManagerClientSettings,
    email,
    env,
    optional,
    positive,
    url,
)

_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


def bot_token(raw: str) -> str:
    token = raw.strip()
    if not _TOKEN.fullmatch(token):
        raise ValueError("expected a bot token like <digits>:<secret>")  # never echo it
    return token


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings, DatabaseSettings, KafkaConsumerSettings, UserManagerClientSettings):
    SERVICE: ClassVar[str] = "alert-notifier"

    telegram_bot_token: str | None = env(
        "TELEGRAM_BOT_TOKEN",
        None,
        parse=optional(bot_token),
        secret=True,
        help="The Telegram bot's token (from @BotFather); unset: every delivery is recorded as `skipped` and "
        "deep-link linking is off.",
    )
    telegram_api_url: str = env(
        "TELEGRAM_API_URL", "https://api.telegram.org", parse=url, help="Root of the Telegram Bot API."
    )
    telegram_max_attempts: int = env(
        "TELEGRAM_MAX_ATTEMPTS",
        5,
        parse=positive(int),
        help="Telegram calls per consumption of an event; after the last one the event is retried later, "
        "never dropped.",
    )
    telegram_timeout_seconds: float = env(
        "TELEGRAM_TIMEOUT_SECONDS", 10.0, parse=positive(float), help="Timeout of every Telegram call (seconds)."
    )
    admin_email: str = env(
        "ADMIN_EMAIL",
        "mario.rossi@gmail.com",
        parse=email,
        help="The user whose Telegram chat receives SLA breaches.",
    )
