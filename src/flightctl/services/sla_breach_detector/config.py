"""The SLA configuration (docs/architecture.md: ``metrics`` and ``settings``): its model, its validation, and its file.

``metrics: [{name, type, query, min, max}]`` and ``settings: {t_check, ...}``. A config object
is immutable; :class:`ConfigStore` swaps the current one under a lock, so a check that is
running keeps the config it started with.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from flightctl.services.common.errors import ConfigError, InvalidInput

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.yaml")
"""The default config shipped with the package; flightctl copies it to SLA_CONFIG_PATH."""

METRIC_KEYS = ("name", "type", "query", "min", "max")
TOP_LEVEL_KEYS = ("metrics", "settings")
SCRAPE_FACTOR = 5


@dataclass(frozen=True)
class MetricRule:
    name: str
    type: str
    query: str
    min: int | float
    max: int | float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "query": self.query, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class SlaConfig:
    metrics: tuple[MetricRule, ...]
    t_check: int | float
    extra_settings: Mapping[str, Any]  # settings other than t_check, kept as given

    def to_dict(self) -> dict[str, Any]:
        settings = {"t_check": self.t_check, **copy.deepcopy(dict(self.extra_settings))}
        return {"metrics": [m.to_dict() for m in self.metrics], "settings": settings}


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _fmt(value: float) -> str:
    return f"{value:g}"


def _parse_metric(index: int, raw: object, seen: set[str]) -> MetricRule:
    where = f"metrics[{index}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object with name, type, query, min and max")
    unknown = sorted(str(k) for k in raw if k not in METRIC_KEYS)
    if unknown:
        raise InvalidInput(
            f"{where} has unknown key(s) {', '.join(unknown)}: a metric has only {', '.join(METRIC_KEYS)}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{where}.name must be a non-empty string")
    where = f"metrics[{index}] ({name})"
    if name in seen:
        raise InvalidInput(f"{where}: metric names must be unique, and {name!r} is used twice")
    seen.add(name)
    if raw.get("type") != "gauge":
        raise InvalidInput(f'{where}.type must be "gauge" (only gauge metrics are supported)')
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(f"{where}.query must be a non-empty PromQL string")
    for bound in ("min", "max"):
        if bound not in raw:
            raise InvalidInput(f"{where}.{bound} is required and must be a finite number")
        if not _is_number(raw[bound]):
            raise InvalidInput(f"{where}.{bound} must be a finite number")
    low, high = raw["min"], raw["max"]
    if low > high:
        raise InvalidInput(f"{where}: min ({_fmt(low)}) must be <= max ({_fmt(high)})")
    return MetricRule(name=name, type="gauge", query=query, min=low, max=high)


def _freeze_extras(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    extras = {str(k): v for k, v in settings.items() if k != "t_check"}
    try:
        json.dumps(extras, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("settings values must be plain JSON values (strings, numbers, lists, objects)") from None
    return MappingProxyType(copy.deepcopy(extras))


def parse_config(raw: object) -> SlaConfig:
    """A config from its JSON/YAML form, checked structurally; InvalidInput names the failed rule.

    The Prometheus rule (``t_check >= 5 * T_scrape``) is checked separately, by
    :func:`check_scrape_rule`, because it needs Prometheus."""
    if not isinstance(raw, dict):
        raise InvalidInput("the config must be an object with metrics and settings")
    unknown = sorted(str(k) for k in raw if k not in TOP_LEVEL_KEYS)
    if unknown:
        raise InvalidInput(f"unknown top-level key(s) {', '.join(unknown)}: the config has only metrics and settings")
    metrics = raw.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise InvalidInput("metrics must be a non-empty list")
    seen: set[str] = set()
    rules = tuple(_parse_metric(i, m, seen) for i, m in enumerate(metrics))
    settings = raw.get("settings")
    if not isinstance(settings, dict):
        raise InvalidInput("settings must be an object with t_check")
    t_check = settings.get("t_check")
    if not isinstance(t_check, int | float) or not _is_number(t_check) or t_check <= 0:
        raise InvalidInput("settings.t_check must be a positive number of seconds")
    return SlaConfig(metrics=rules, t_check=t_check, extra_settings=_freeze_extras(settings))


def check_scrape_rule(config: SlaConfig, t_scrape: float) -> None:
    """InvalidInput unless ``settings.t_check >= 5 * T_scrape``."""
    if config.t_check < SCRAPE_FACTOR * t_scrape:
        raise InvalidInput(
            f"settings.t_check >= {SCRAPE_FACTOR} * T_scrape is violated: t_check is "
            f"{_fmt(config.t_check)}s but Prometheus scrapes every {_fmt(t_scrape)}s, "
            f"so t_check must be at least {_fmt(SCRAPE_FACTOR * t_scrape)}s"
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def load_config_file(path: Path) -> SlaConfig:
    """The config stored at ``path`` (SLA_CONFIG_PATH), checked structurally; ConfigError with
    one line naming SLA_CONFIG_PATH when it is missing or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"SLA_CONFIG_PATH {path} does not exist (the default config is {DEFAULT_CONFIG_PATH})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"SLA_CONFIG_PATH {path} cannot be read: {_one_line(exc)}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"SLA_CONFIG_PATH {path} is not valid YAML: {_one_line(exc)}") from None
    try:
        return parse_config(raw)
    except InvalidInput as exc:
        raise ConfigError(f"SLA_CONFIG_PATH {path} is invalid: {exc.message}") from None


_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's safe dumper when PyYAML has it: the same text as ``yaml.safe_dump``, written in C
(7 ms for the default config in pure Python, 1.3 ms in C, on every accepted POST)."""


def render_config(config: SlaConfig) -> str:
    header = "# SLA config, written by sla-breach-detector (POST /sla/config).\n"
    body = yaml.dump(config.to_dict(), Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True, width=1000)
    return header + body


def write_config_file(path: Path, config: SlaConfig) -> None:
    """Replace ``path`` atomically: a temporary file in the same directory, fsync, rename, and
    fsync of the directory, so a crash leaves the old file or the new one, never half of one."""
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_config(config))
            handle.flush()
            os.fchmod(handle.fileno(), _mode_of(path))
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _fsync_directory(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        # Some filesystems cannot fsync a directory; the rename is atomic all the same.
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ConfigStore:
    """The current config and its file. ``current()`` is lock-free for readers after the swap;
    ``replace()`` writes the file first and swaps only when it is safely on disk."""

    def __init__(
        self,
        path: Path,
        initial: SlaConfig,
        write: Callable[[Path, SlaConfig], None] = write_config_file,
    ) -> None:
        self.path = path
        self._current = initial
        self._write = write
        self._lock = threading.Lock()
        self._listeners: list[Callable[[SlaConfig], object]] = []

    def current(self) -> SlaConfig:
        with self._lock:
            return self._current

    def subscribe(self, listener: Callable[[SlaConfig], object]) -> None:
        """Call ``listener(new_config)`` after every replace."""
        self._listeners.append(listener)

    def replace(self, config: SlaConfig) -> SlaConfig:
        with self._lock:
            self._write(self.path, config)
            self._current = config
        for listener in self._listeners:
            listener(config)
        return config
