"""The five services as local processes, each with its environment (SPEC section 3)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from flightctl.local import postgres
from flightctl.local.layout import MODULES, SERVICES, Home, State

# Passed through from flightctl's environment (or ./.env) to the services that use them.
PASSTHROUGH = {
    "user-manager": ("IDEMPOTENCY_TTL_SECONDS", "OUTBOX_RETRY_SECONDS", "TELEGRAM_LINK_TTL_SECONDS"),
    "data-collector": (
        "OPENSKY_API_URL",
        "OPENSKY_TOKEN_URL",
        "OPENSKY_CLIENT_ID",
        "OPENSKY_CLIENT_SECRET",
        "OPENSKY_MOCK_FALLBACK",
        "OPENSKY_TIMEOUT_SECONDS",
        "COLLECT_INTERVAL_SECONDS",
        "COLLECT_WINDOW_HOURS",
        "COLLECT_POOL_SIZE",
        "CIRCUIT_FAIL_MAX",
        "CIRCUIT_RESET_SECONDS",
        "FLIGHT_RETENTION_DAYS",
    ),
    "alert-system": ("ALERT_REPEAT_SECONDS", "KAFKA_SESSION_TIMEOUT_MS", "PROCESSED_EVENT_RETENTION_DAYS"),
    "alert-notifier": (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_URL",
        "ADMIN_EMAIL",
        "TELEGRAM_MAX_ATTEMPTS",
        "TELEGRAM_TIMEOUT_SECONDS",
    ),
    "sla-breach-detector": ("PROMETHEUS_TIMEOUT_SECONDS",),
}
COMMON = ("LOG_FORMAT", "LOG_LEVEL")
CONFIG_VARIABLES = sorted({v for names in PASSTHROUGH.values() for v in names} | set(COMMON))


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; optional quotes stripped."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def configuration(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The operator's settings: the environment wins over ./.env."""
    merged = read_dotenv(cwd / ".env")
    merged.update({k: v for k, v in environ.items() if k in CONFIG_VARIABLES})
    return {k: v for k, v in merged.items() if k in CONFIG_VARIABLES}


def sla_config_path(home: Home) -> Path:
    return home.path("sla", "config.yaml")


def ensure_sla_config(home: Home) -> Path:
    path = sla_config_path(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        default = resources.files("flightctl.services.sla_breach_detector").joinpath("default_config.yaml")
        with resources.as_file(default) as source:
            shutil.copyfile(source, path)
    return path


def environment(service: str, home: Home, state: State, config: Mapping[str, str]) -> dict[str, str]:
    ports = state.ports
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(ports.http(service)),
        "API_TOKEN": state.api_token,
    }
    if service in postgres.DATABASES:
        env["DATABASE_URL"] = postgres.url(state, postgres.DATABASES[service])
    if service != "user-manager":
        env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{ports.kafka}"
    if service in ("user-manager", "data-collector"):
        env["GRPC_HOST"] = "127.0.0.1"
        env["GRPC_PORT"] = str(ports.grpc(service))
    if service in ("data-collector", "alert-notifier"):
        env["USER_MANAGER_GRPC_TARGET"] = f"127.0.0.1:{ports.grpc('user-manager')}"
    if service == "user-manager":
        env["DATA_COLLECTOR_GRPC_TARGET"] = f"127.0.0.1:{ports.grpc('data-collector')}"
    if service == "sla-breach-detector":
        env["PROMETHEUS_URL"] = f"http://127.0.0.1:{ports.prometheus}"
        env["SLA_CONFIG_PATH"] = str(sla_config_path(home))
    for name in (*COMMON, *PASSTHROUGH[service]):
        if name in config:
            env[name] = config[name]
    return env


def command(service: str) -> list[str]:
    return [sys.executable, "-m", MODULES[service]]


def fingerprint(env: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(env.items())).encode()).hexdigest()[:16]


__all__ = ["SERVICES", "command", "configuration", "environment", "fingerprint"]
