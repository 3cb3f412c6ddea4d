from __future__ import annotations

import pytest

from .kube import OVERLAYS, Manifest, rendered


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def manifests(overlay: str) -> list[Manifest]:
    return rendered(overlay)
