"""The OpenAPI 3.1 description of a service's HTTP API, served at ``GET /openapi.json``.

Two YAML files make it, each describing the routes of one layer: ``services/common/openapi.yaml``
the routes every service gets from the HTTP app factory (/ping, /health, /metrics,
/openapi.json), the error shape, the bearer token and the shared responses; and
``services/<service>/openapi.yaml`` the service's own routes. :func:`document` merges them: the
service's ``info`` and ``paths`` join the common ones, and each ``components`` section is the
union of both (a name defined twice is an error, so nothing is silently overridden).
Read once per process, on the first request, and kept."""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

FILE_NAME = "openapi.yaml"
COMMON_PACKAGE = "flightctl.services.common"


def package_of(service: str) -> str:
    """``user-manager`` -> ``flightctl.services.user_manager``."""
    return "flightctl.services." + service.replace("-", "_")


def _load(package: str) -> dict[str, Any] | None:
    try:
        text = resources.files(package).joinpath(FILE_NAME).read_text(encoding="utf-8")
    except (ImportError, OSError, ValueError):
        return None
    loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"{package}/{FILE_NAME} is not a YAML mapping")
    return loaded


def merge(common: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """``common`` with ``own`` laid over it: top-level keys of ``own`` win, except ``paths``,
    ``tags`` and every ``components`` section, which are joined; ValueError when both define
    the same path or component."""
    merged = copy.deepcopy(common)
    for key, value in own.items():
        if key == "paths":
            twice = sorted(set(merged.get("paths", {})) & set(value))
            if twice:
                raise ValueError(f"paths described twice: {', '.join(twice)}")
            merged.setdefault("paths", {}).update(copy.deepcopy(value))
        elif key == "tags":
            merged["tags"] = [*merged.get("tags", []), *copy.deepcopy(value)]
        elif key == "components":
            components = merged.setdefault("components", {})
            for section, entries in value.items():
                target = components.setdefault(section, {})
                twice = sorted(set(target) & set(entries))
                if twice:
                    raise ValueError(f"components.{section} defined twice: {', '.join(twice)}")
                target.update(copy.deepcopy(entries))
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@functools.cache
def document(service: str) -> dict[str, Any] | None:
    """The service's whole OpenAPI document, or None when the service ships none."""
    own = _load(package_of(service))
    if own is None:
        return None
    common = _load(COMMON_PACKAGE)
    if common is None:
        raise FileNotFoundError(f"{COMMON_PACKAGE}/{FILE_NAME} is missing from the package")
    return merge(common, own)
