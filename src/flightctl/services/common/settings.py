"""Settings read once from environment variables, validated at start, logged with secrets masked.

Each service declares a frozen dataclass (its ``settings.py``, importable without Flask,
SQLAlchemy or Kafka) whose fields carry their environment variable, parser, default, help text,
secrecy and who sets them through :func:`env`. ``Settings.from_env(os.environ)`` builds it or
raises :class:`ConfigError` naming the variable. These declarations are the only list of the
platform's variables: ``flightctl.config`` derives from them what flightctl passes to each
service, the Kubernetes ConfigMap and Secret keys, and docs/configuration.md.

Settings that several services share are declared once, in the mixins below.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from flightctl.services.common.emails import normalize_email
from flightctl.services.common.errors import ConfigError

T = TypeVar("T")
_REQUIRED: Any = object()


class SetBy(enum.Enum):
    """Who gives a variable its value."""

    OPERATOR = "operator"
    """You, in the environment or ./.env where you run flightctl: `up --local` passes it to the
    services that declare it; `up --kind` puts it in the ConfigMap flightctl-settings, or in the
    Secret flightctl-secrets when it is secret."""

    FLIGHTCTL = "flightctl"
    """flightctl itself (connections, addresses, ports, paths, the generated API token): locally
    in each process's environment, on Kubernetes in the manifests."""

    PROCESS = "process"
    """Nobody passes it on: set it in the environment of a process you start yourself
    (`flightctl serve`, `python -m flightctl.services.<name>`, the tests)."""


def env(
    var: str,
    default: Any = _REQUIRED,
    *,
    help: str,
    parse: Callable[[str], Any] = str,
    secret: bool = False,
    set_by: SetBy = SetBy.OPERATOR,
) -> Any:
    """Declare a settings field read from the environment variable ``var``: what it means
    (``help``, one sentence or two, shown in docs/configuration.md), how its text is parsed, its
    default (none: required), whether it is secret (masked in logs, kept in the Secret), and
    who sets it."""
    if not help.strip():
        raise ValueError(f"{var}: every setting needs a help text")
    metadata = {"var": var, "parse": parse, "secret": secret, "help": help.strip(), "set_by": set_by}
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


def email(raw: str) -> str:
    value = raw.strip()
    if "@" not in value:
        raise ValueError("expected an email address")
    return normalize_email(value)


def optional(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    def inner(raw: str) -> T | None:
        return parse(raw) if raw.strip() else None

    return inner


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaseSettings:
    """Settings every service has. ``SERVICE`` names the service the class configures."""

    SERVICE: ClassVar[str] = ""

    http_host: str = env(
        "HTTP_HOST", "0.0.0.0", set_by=SetBy.FLIGHTCTL, help="Address the HTTP server (API, /health, /metrics) binds."
    )
    http_port: int = env("HTTP_PORT", 8080, parse=parse_port, set_by=SetBy.FLIGHTCTL, help="Port of the HTTP server.")
    log_format: str = env(
        "LOG_FORMAT",
        "text",
        help="Log format: `text` for readable lines, `json` for one JSON object per line (Kubernetes: json).",
    )
    log_level: str = env("LOG_LEVEL", "INFO", help="Python logging level: DEBUG, INFO, WARNING or ERROR.")
    api_token: str | None = env(
        "API_TOKEN",
        None,
        parse=optional(str),
        secret=True,
        set_by=SetBy.FLIGHTCTL,
        help="The bootstrap API token (scope admin): every HTTP API call must carry it or a scoped token made "
        "with `flightctl auth token create` (/ping, /health and /metrics are open); unset: no authentication. "
        "flightctl generates it (`flightctl auth token` prints it); on Kubernetes a value in the environment or "
        ".env is used instead.",
    )

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
    database_url: str = env(
        "DATABASE_URL",
        set_by=SetBy.FLIGHTCTL,
        help="SQLAlchemy URL of the service's own PostgreSQL database (its password is masked in the log).",
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class KafkaSettings:
    kafka_bootstrap_servers: str = env(
        "KAFKA_BOOTSTRAP_SERVERS",
        set_by=SetBy.FLIGHTCTL,
        help="Kafka brokers to connect to, `host:port[,host:port...]`.",
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class KafkaConsumerSettings(KafkaSettings):
    kafka_group_id: str | None = env(
        "KAFKA_GROUP_ID",
        None,
        parse=optional(str),
        set_by=SetBy.PROCESS,
        help="Kafka consumer group the service joins; unset: the service's name.",
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class GrpcServerSettings:
    grpc_host: str = env("GRPC_HOST", "0.0.0.0", set_by=SetBy.FLIGHTCTL, help="Address the gRPC server binds.")
    grpc_port: int = env("GRPC_PORT", 50051, parse=parse_port, set_by=SetBy.FLIGHTCTL, help="Port of the gRPC server.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserManagerClientSettings:
    user_manager_grpc_target: str = env(
        "USER_MANAGER_GRPC_TARGET", set_by=SetBy.FLIGHTCTL, help="Address of user-manager's gRPC server, `host:port`."
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataCollectorClientSettings:
    data_collector_grpc_target: str = env(
        "DATA_COLLECTOR_GRPC_TARGET",
        set_by=SetBy.FLIGHTCTL,
        help="Address of data-collector's gRPC server, `host:port`.",
    )
