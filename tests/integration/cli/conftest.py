"""Run flightctl in-process with Typer's CliRunner against the session's real local platform."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from flightctl.cli.main import app, hoist_global_options
from tests.conftest import Platform

Cli = Callable[..., Result]
# Variables from the developer's shell that would point flightctl elsewhere.
UNSET: dict[str, str | None] = {
    name: None
    for name in (
        "FLIGHTCTL_CONTEXT",
        "FLIGHTCTL_TOKEN",
        "FLIGHTCTL_RETRIES",
        "API_TOKEN",
        "FLIGHTCTL_USER_MANAGER_URL",
        "FLIGHTCTL_DATA_COLLECTOR_URL",
        "FLIGHTCTL_ALERT_NOTIFIER_URL",
    )
}


def invoke(env: dict[str, Any], *args: str, **extra_env: str) -> Result:
    return CliRunner().invoke(app, hoist_global_options(list(args)), env={**UNSET, **env, **extra_env})


@pytest.fixture
def cli(platform: Platform) -> Cli:
    def run(*args: str, **extra_env: str) -> Result:
        return invoke(platform.env, *args, **extra_env)

    return run
