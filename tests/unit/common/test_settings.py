import dataclasses

import pytest

from flightctl.services.common.errors import ConfigError
from flightctl.services.common.settings import BaseSettings, DatabaseSettings, SetBy, env, parse_bool, positive


@dataclasses.dataclass(frozen=True, kw_only=True)
class Example(BaseSettings, DatabaseSettings):
    interval: float = env("INTERVAL_SECONDS", 5.0, parse=positive(float), help="How often.")
    flag: bool = env("FLAG", True, parse=parse_bool, help="Whether.")


def test_defaults_and_parsing() -> None:
    settings = Example.from_env({"DATABASE_URL": "postgresql://u:pw@h/db", "INTERVAL_SECONDS": "2.5", "FLAG": "no"})
    assert settings.interval == 2.5 and settings.flag is False and settings.http_port == 8080


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is required"):
        Example.from_env({})


@pytest.mark.parametrize(
    ("var", "raw"), [("INTERVAL_SECONDS", "-1"), ("HTTP_PORT", "70000"), ("FLAG", "maybe"), ("LOG_FORMAT", "xml")]
)
def test_bad_values_are_named(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Example.from_env({"DATABASE_URL": "postgresql://h/db", var: raw})


def test_secrets_and_url_passwords_are_masked() -> None:
    shown = Example.from_env(
        {"DATABASE_URL": "postgresql+psycopg://user:s3cret@h:5432/db", "API_TOKEN": "tok"}
    ).masked()
    assert shown["API_TOKEN"] == "***"
    assert shown["DATABASE_URL"] == "postgresql+psycopg://user:***@h:5432/db"
    assert "s3cret" not in repr(shown)


def test_every_setting_says_what_it_means() -> None:
    with pytest.raises(ValueError, match="EMPTY: every setting needs a help text"):
        env("EMPTY", 1, help="  ")
    field = env("SOME", 1, help="  What it is. ")
    assert field.metadata["help"] == "What it is."
    assert field.metadata["set_by"] is SetBy.OPERATOR and field.metadata["secret"] is False
