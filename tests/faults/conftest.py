"""The fault suite runs against the session's platform (tests/conftest.py) and leaves it as it
found it: every fault is undone, and what a test stopped is started again."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flightctl.local.supervisor import read_status
from tests.conftest import Platform

RESULTS: dict[str, Any] = {}
"""What each fault measured (recovery times, answers seen), printed at the end of the run."""


def supervision(platform: Platform, name: str) -> dict[str, Any]:
    """What the supervisor of ``name`` reports (restarts, last exit, child pid, state)."""
    return read_status(platform.home / "run" / "supervisor" / f"{name}.json") or {}


def kill(platform: Platform, name: str, sig: int = signal.SIGKILL) -> int:
    """Signal the process of ``name`` itself (not its supervisor); its pid."""
    pid = int(supervision(platform, name)["child_pid"])
    os.kill(pid, sig)
    return pid


def health(platform: Platform, service: str) -> int | None:
    try:
        return httpx.get(platform.url(service) + "/health", timeout=3).status_code
    except httpx.HTTPError:
        return None


def status(platform: Platform) -> dict[str, Any]:
    return dict(json.loads(platform.flightctl("status", "-o", "json").stdout))


@pytest.fixture(scope="session")
def results() -> Iterator[dict[str, Any]]:
    yield RESULTS
    if RESULTS:
        out = Path(os.environ.get("FLIGHTCTL_FAULT_RESULTS", "/tmp/flightctl-fault-results.json"))
        out.write_text(json.dumps(RESULTS, indent=2, sort_keys=True))
        print(f"\nfault results ({out}):\n" + json.dumps(RESULTS, indent=2, sort_keys=True))


class Stopwatch:
    def __init__(self) -> None:
        self.began = time.monotonic()

    def __call__(self) -> float:
        return round(time.monotonic() - self.began, 1)
