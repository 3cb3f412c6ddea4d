"""Fixtures of the SLA tests: the lab (``lab.py``) for a module, a reader of ``sla_breach``
for a test, and a client of the platform's own detector that puts its config back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Platform
from tests.integration.sla_breach_detector.lab import BreachReader, Lab


@pytest.fixture(scope="module")
def lab(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(platform, tmp_path_factory.mktemp("sla-lab"))
    try:
        lab.start()
        yield lab
    finally:
        lab.close()


@pytest.fixture
def breaches(lab: Lab) -> Iterator[BreachReader]:
    reader = BreachReader(lab.kafka)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
def sla_client(platform: Platform) -> Iterator[httpx.Client]:
    """The platform's own detector; whatever a test posts, the original config is put back."""
    with platform.client("sla-breach-detector") as client:
        original = client.get("/sla/config").json()
        try:
            yield client
        finally:
            restored = client.post("/sla/config", json=original)
            assert restored.status_code == 200, restored.text
