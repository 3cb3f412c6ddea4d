"""Settings read once from environment variables, validated at start, logged with secrets masked.

Each service declares a frozen dataclass whose fields carry their environment variable, parser,
default and secrecy through :func:`env`. ``Settings.from_env(os.environ)`` builds it or raises
:class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar

from flightctl.services.common.errors import ConfigError

T = TypeVar("T")
_REQUIRED: Any = object()


def env(
    var: str,
    default: Any = _REQUIRED,
    *,
    parse: Callable[[str], Any] = str,
    secret: bool = False,
    help: str = "",
) -> Any:
    """Declare a settings field read from the environment variable ``var``."""
    metadata = {"var": var, "parse": parse, "secret": secret, "help": help}
    if default is _REQUIRED:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def parse_port(raw: str) -> int:
    port = int(raw)
    if not 0 < port < 65536:
        raise ValueError("expected a TCP port between 1 and 65535")
    return port


def non_negative(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if value < 0:  # type: ignore[operator]
            raise ValueError("must not be negative")
        return value

    return parse


def positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if value <= 0:  # type: ignore[operator]
            raise ValueError("must be greater than zero")
        return value

    return parse


def url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


def optional(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    def inner(raw: str) -> T | None:
        return parse(raw) if raw.strip() else None

    return inner


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaseSettings:
    """Settings every service has."""

    http_host: str = env("HTTP_HOST", "0.0.0.0", help="address the HTTP server binds")
    http_port: int = env("HTTP_PORT", 8080, parse=parse_port)
    log_format: str = env("LOG_FORMAT", "text", help="text or json")
    log_level: str = env("LOG_LEVEL", "INFO")
    api_token: str | None = env("API_TOKEN", None, parse=optional(str), secret=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            var = field.metadata["var"]
            raw = environ.get(var)
            if raw is None or (raw.strip() == "" and field.default is dataclasses.MISSING):
                if field.default is dataclasses.MISSING:
                    raise ConfigError(f"{var} is required but not set")
                continue
            try:
                values[field.name] = field.metadata["parse"](raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{var} is invalid: {exc}") from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.log_format not in {"text", "json"}:
            raise ConfigError("LOG_FORMAT is invalid: expected text or json")

    def masked(self) -> dict[str, Any]:
        """The settings by variable name, secrets (and URL passwords) masked, for the start log."""
        shown: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.metadata["secret"] and value is not None:
                value = "***"
            elif isinstance(value, str) and "://" in value and "@" in value:
                value = mask_url_password(value)
            shown[field.metadata["var"]] = value
        return shown


def mask_url_password(value: str) -> str:
    scheme, _, rest = value.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return value
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    database_url: str = env("DATABASE_URL", help="SQLAlchemy URL of the service's own database")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KafkaSettings:
    kafka_bootstrap_servers: str = env("KAFKA_BOOTSTRAP_SERVERS")
