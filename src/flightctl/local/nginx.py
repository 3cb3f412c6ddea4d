"""The local NGINX gateway: TLS, the services' path prefixes, HTTP redirected to HTTPS, JSON errors;
its configuration is the one the cluster's gateway runs too (flightctl.deploy.gateway)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flightctl.deploy import gateway
from flightctl.deploy.gateway import fill
from flightctl.errors import FlightctlError, PrerequisiteMissing
from flightctl.platform.layout import Home, State

__all__ = ["MATCH", "binary", "command", "fill", "render"]
MATCH = "nginx: master process"
RATE_LIMIT_VARIABLE = "FLIGHTCTL_GATEWAY_RATE_LIMIT"
"""Mutating requests a second per client address that the local gateway lets through (read at
`up`; default :data:`flightctl.deploy.gateway.MUTATIONS_PER_SECOND`)."""


def mutations_per_second() -> int:
    raw = os.environ.get(RATE_LIMIT_VARIABLE, "").strip()
    if not raw:
        return gateway.MUTATIONS_PER_SECOND
    if not raw.isdigit() or int(raw) < 1:
        raise FlightctlError(f"{RATE_LIMIT_VARIABLE} must be a whole number of requests a second, at least 1")
    return int(raw)


def binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise PrerequisiteMissing("NGINX not found; install it: apt-get install -y nginx-light")
    return found


def render(home: Home, state: State, cert: Path, key: Path) -> Path:
    """Write $FLIGHTCTL_HOME/nginx/nginx.conf from the shared template (flightctl.deploy.gateway)."""
    prefix = home.path("nginx")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    text = gateway.render(
        upstream=lambda service: f"127.0.0.1:{state.ports.http(service)}",
        http_listen=f"127.0.0.1:{state.ports.gateway_http}",
        https_listen=f"127.0.0.1:{state.ports.gateway_https}",
        https_port_suffix=f":{state.ports.gateway_https}",
        cert=cert,
        key=key,
        pid_file=prefix / "nginx.pid",
        error_log=home.logs / "nginx-error.log",
        access_log=home.logs / "nginx-access.log",
        temp_dir=prefix / "tmp",
        user_directive="user www-data;" if os.geteuid() == 0 else "",
        mutations_per_second=mutations_per_second(),
    )
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


def command(home: Home, conf: Path) -> list[str]:
    return [
        binary(),
        "-p",
        str(home.path("nginx")),
        "-c",
        str(conf),
        "-e",
        str(home.logs / "nginx-error.log"),
        "-g",
        "daemon off;",
    ]
