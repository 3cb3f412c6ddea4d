"""Settings: defaults, required values, validation and masking."""

from __future__ import annotations

import pytest

from flightctl.services.alert_notifier.settings import Settings
from flightctl.services.common.errors import ConfigError

BASE = {
    "DATABASE_URL": "postgresql+psycopg://notifier:pw@127.0.0.1:5432/alert_notifier",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "USER_MANAGER_GRPC_TARGET": "127.0.0.1:50051",
}
TOKEN = "123456:AAH-secret_value"


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.admin_email == "mario.rossi@gmail.com"
    assert settings.telegram_max_attempts == 5
    assert settings.kafka_group_id is None  # the group is then the service's name


def test_the_grpc_target_is_required() -> None:
    env = {k: v for k, v in BASE.items() if k != "USER_MANAGER_GRPC_TARGET"}
    with pytest.raises(ConfigError, match="USER_MANAGER_GRPC_TARGET"):
        Settings.from_env(env)


def test_an_empty_token_means_no_token() -> None:
    assert Settings.from_env({**BASE, "TELEGRAM_BOT_TOKEN": " "}).telegram_bot_token is None


def test_the_token_is_secret() -> None:
    settings = Settings.from_env({**BASE, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:81/"})
    assert settings.telegram_bot_token == TOKEN
    assert settings.telegram_api_url == "http://127.0.0.1:81"
    masked = settings.masked()
    assert masked["TELEGRAM_BOT_TOKEN"] == "***"
    assert TOKEN not in repr(masked)
    assert "pw" not in masked["DATABASE_URL"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("TELEGRAM_BOT_TOKEN", "not-a-token"),
        ("TELEGRAM_API_URL", "api.telegram.org"),
        ("TELEGRAM_MAX_ATTEMPTS", "0"),
        ("TELEGRAM_MAX_ATTEMPTS", "many"),
        ("ADMIN_EMAIL", "nobody"),
    ],
)
def test_bad_values_stop_the_start_naming_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var) as error:
        Settings.from_env({**BASE, var: value})
    assert value not in str(error.value) or var != "TELEGRAM_BOT_TOKEN"
