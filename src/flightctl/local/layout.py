"""The local platform's layout: the shared one (flightctl.platform.layout, re-exported here for
the imports that name this module) and the log file each `flightctl logs NAME` shows."""

from __future__ import annotations

from flightctl.platform.layout import (
    DEFAULT_PORT_BASE,
    MODULES,
    SERVICES,
    Home,
    Ports,
    State,
    port_in_use,
)

# `flightctl logs NAME`: the file under $FLIGHTCTL_HOME/logs/ (NAME.log) each name shows.
LOG_NAMES = {
    **{service: service for service in SERVICES},
    "postgres": "postgres",
    "kafka": "kafka",
    "prometheus": "prometheus",
    "gateway": "nginx-error",
    "gateway-access": "nginx-access",
}

__all__ = ["DEFAULT_PORT_BASE", "LOG_NAMES", "MODULES", "SERVICES", "Home", "Ports", "State", "port_in_use"]
