"""The five services as local processes, each with its environment: the variables flightctl
fills itself (values below, names from each service's settings) and the operator's settings the
service reads, passed through (``flightctl.config``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from flightctl import config as catalogue
from flightctl.local import postgres
from flightctl.platform.layout import MODULES, Home, State


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
    """``service``'s environment: the variables flightctl fills for it, and those of the
    operator's settings in ``config`` (see :func:`flightctl.config.configuration`) that it reads."""
    ports = state.ports
    filled: dict[str, Callable[[], str]] = {
        "HTTP_HOST": lambda: "127.0.0.1",
        "HTTP_PORT": lambda: str(ports.http(service)),
        "API_TOKEN": lambda: state.api_token,
        "DATABASE_URL": lambda: postgres.url(state, postgres.DATABASES[service]),
        "KAFKA_BOOTSTRAP_SERVERS": lambda: f"127.0.0.1:{ports.kafka}",
        "GRPC_HOST": lambda: "127.0.0.1",
        "GRPC_PORT": lambda: str(ports.grpc(service)),
        "USER_MANAGER_GRPC_TARGET": lambda: f"127.0.0.1:{ports.grpc('user-manager')}",
        "DATA_COLLECTOR_GRPC_TARGET": lambda: f"127.0.0.1:{ports.grpc('data-collector')}",
        "PROMETHEUS_URL": lambda: f"http://127.0.0.1:{ports.prometheus}",
        "SLA_CONFIG_PATH": lambda: str(sla_config_path(home)),
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    for name in catalogue.filled_by_flightctl(service):
        if name not in filled:
            raise LookupError(f"{service} reads {name}, which flightctl sets, but there is no local value for it")
        env[name] = filled[name]()
    for name in catalogue.passed_through(service):
        if name in config:
            env[name] = config[name]
    return env


def command(service: str) -> list[str]:
    return [sys.executable, "-m", MODULES[service]]


def code_identity() -> str:
    """What the services would run if started now: the installed version and every module's
    name, size and modification time. It changes with `pip install -U` (and with an edit in a
    checkout), so `up` restarts services that run older code."""
    import flightctl
    from flightctl.versions import package_version

    root = Path(flightctl.__file__).resolve().parent
    files = sorted(root.rglob("*.py"))
    stamps = [(str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(json.dumps([package_version(), stamps]).encode()).hexdigest()


def fingerprint(env: Mapping[str, str], code: str = "") -> str:
    """Of a service's environment and the code it runs (:func:`code_identity`): a running
    service whose fingerprint differs is restarted by `up`."""
    return hashlib.sha256(json.dumps([sorted(env.items()), code]).encode()).hexdigest()[:16]


__all__ = ["command", "environment", "fingerprint"]
