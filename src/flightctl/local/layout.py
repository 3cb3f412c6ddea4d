"""The log file each `flightctl logs NAME` shows in local mode (the shared layout, Home, ports and
the service list, is flightctl.platform.layout)."""

from __future__ import annotations

from flightctl.platform.layout import SERVICES

# `flightctl logs NAME`: the file under $FLIGHTCTL_HOME/logs/ (NAME.log) each name shows.
LOG_NAMES = {
    **{service: service for service in SERVICES},
    "postgres": "postgres",
    "kafka": "kafka",
    "prometheus": "prometheus",
    "gateway": "nginx-error",
    "gateway-access": "nginx-access",
}
