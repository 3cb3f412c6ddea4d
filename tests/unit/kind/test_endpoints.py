from __future__ import annotations

import pytest

from flightctl.errors import FlightctlError
from flightctl.kind import endpoints, layout, secrets
from flightctl.platform.layout import Home


@pytest.mark.parametrize(
    ("service", "url"),
    [
        ("user-manager", "https://127.0.0.1/user-manager"),
        ("data-collector", "https://127.0.0.1/data-collector"),
        ("sla-breach-detector", "https://127.0.0.1/sla-detector"),
        ("alert-notifier", "https://127.0.0.1/notifier"),
    ],
)
def test_without_a_forward_the_ingress_prefix_is_used(home: Home, service: str, url: str) -> None:
    assert endpoints.service_url(home, service) == url


def test_alert_system_has_no_public_api(home: Home) -> None:
    with pytest.raises(FlightctlError, match="port-forward start alert-system"):
        endpoints.service_url(home, "alert-system")
    with pytest.raises(FlightctlError, match="unknown service"):
        endpoints.service_url(home, "gateway")


def test_api_token_is_the_one_flightctl_generated(home: Home) -> None:
    assert endpoints.api_token(home) is None
    secrets.write(layout.secrets_file(home), {"API_TOKEN": "abc123", "POSTGRES_PASSWORD": "p"})
    assert endpoints.api_token(home) == "abc123"
    assert endpoints.certificate(home) is None
