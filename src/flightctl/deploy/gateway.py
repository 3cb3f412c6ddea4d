"""The gateway's NGINX configuration: one template (``nginx/gateway.conf.template``) rendered for
both platforms, so TLS, the HTTP to HTTPS redirect, the path prefixes, the JSON error pages,
the 1 MiB body limit and the timeouts are written once.

- locally (``flightctl.local.nginx``): upstreams on 127.0.0.1 at the local ports, files under
  ``$FLIGHTCTL_HOME``;
- on a cluster (:func:`cluster_config`): upstreams by Service name (``user-manager:8080``),
  logs to stdout/stderr, temporary files in ``/tmp``, the certificate from the Secret
  ``flightctl-tls``. The result is committed as ``kubernetes/base/gateway/nginx.conf``
  (``scripts/gen_gateway_conf.py``; a test fails when it is stale), so the manifests apply with
  plain ``kubectl apply -k`` and every render shows the configuration the gateway runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flightctl import deploy
from flightctl.platform.layout import GATEWAY_PREFIXES

TEMPLATE = ("nginx", "gateway.conf.template")
# Where the cluster's gateway finds its files, and the ports it listens on
# (kubernetes/base/gateway/gateway.yaml mounts and exposes exactly these; a test checks it).
CLUSTER_CONF_DIR = "/etc/flightctl-gateway/conf"
CLUSTER_TLS_DIR = "/etc/flightctl-gateway/tls"
CLUSTER_HTTPS_PORT = 8443
CLUSTER_HTTP_PORT = 8080
SERVICE_HTTP_PORT = 8080  # every service's Service port "http"


def fill(template: str, **values: object) -> str:
    """Replace every {{name}}; a name without a value is an error (a broken template)."""

    def value(match: re.Match[str]) -> str:
        return str(values[match.group(1)])

    return re.sub(r"\{\{(\w+)\}\}", value, template)


UPSTREAM_KEEPALIVE = 32
"""Idle connections the gateway keeps open to each service (per NGINX worker)."""
UPSTREAM_KEEPALIVE_SECONDS = 4
"""How long such a connection may stay idle: under the services' own 10 s (cheroot's default
timeout), so the gateway never reuses one the service is closing."""


def upstream_name(service: str) -> str:
    return f"flightctl-{service}"


def upstreams(upstream: Callable[[str], str]) -> str:
    """One upstream block per public service, at ``upstream(service)``, with a pool of idle
    keep-alive connections: a proxied request reuses one instead of opening (and the service
    accepting) a new TCP connection each time."""
    return "\n".join(
        f"    upstream {upstream_name(service)} {{\n"
        f"        server {upstream(service)};\n"
        f"        keepalive {UPSTREAM_KEEPALIVE};\n"
        f"        keepalive_timeout {UPSTREAM_KEEPALIVE_SECONDS}s;\n"
        "    }"
        for service in GATEWAY_PREFIXES
    )


def locations() -> str:
    """One location per public service: ``/<prefix>/`` proxied to the service's upstream block
    (the prefix stripped), and ``/<prefix>`` redirected to ``/<prefix>/``."""
    return "\n".join(
        f"        location /{prefix}/ {{\n"
        f"            proxy_pass http://{upstream_name(service)}/;\n"
        "        }\n"
        f"        location = /{prefix} {{\n"
        f"            return 308 /{prefix}/;\n"
        "        }"
        for service, prefix in GATEWAY_PREFIXES.items()
    )


MUTATIONS_PER_SECOND = 100
"""The default rate limit of mutating requests per client address (POST, PUT, PATCH, DELETE):
well above what `flightctl loadtest` with 100 users sends from its one address (about 35 a
second), far below what would let one client flood the databases."""
SECURITY_HEADERS = (
    ("Strict-Transport-Security", '"max-age=31536000"'),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)


def security_headers(indent: str) -> str:
    """The headers every HTTPS answer carries (``always``: error answers too)."""
    return "\n".join(f"{indent}add_header {name} {value} always;" for name, value in SECURITY_HEADERS)


def render(
    *,
    upstream: Callable[[str], str],
    http_listen: str,
    https_listen: str,
    https_port_suffix: str,
    cert: str | Path,
    key: str | Path,
    pid_file: str | Path,
    error_log: str | Path,
    access_log: str | Path,
    temp_dir: str | Path,
    user_directive: str = "",
    mutations_per_second: int = MUTATIONS_PER_SECOND,
) -> str:
    """The gateway configuration. ``upstream(service)`` is the service's ``host:port``;
    ``https_port_suffix`` is what the HTTP redirect appends to the host (``:18404`` locally,
    empty where HTTPS is on port 443); ``mutations_per_second`` is the rate limit of mutating
    requests per client address (bursts of twice that pass at once)."""
    if mutations_per_second < 1:
        raise ValueError("the rate limit of mutating requests must be at least 1 a second")
    prefixes = list(GATEWAY_PREFIXES.values())
    return fill(
        deploy.path(*TEMPLATE).read_text(),
        user_directive=user_directive,
        pid_file=pid_file,
        error_log=error_log,
        access_log=access_log,
        temp_dir=temp_dir,
        http_listen=http_listen,
        https_listen=https_listen,
        https_port_suffix=https_port_suffix,
        cert=cert,
        key=key,
        upstreams=upstreams(upstream),
        locations=locations(),
        prefix_list=", ".join(f'"/{p}/"' for p in prefixes),
        prefix_names=", ".join(f"/{p}/" for p in prefixes),
        mutation_rate=mutations_per_second,
        mutation_burst=2 * mutations_per_second,
        security_headers=security_headers(" " * 8),
        security_headers_inner=security_headers(" " * 12),
    )


def cluster_config() -> str:
    """The configuration the cluster's gateway runs (kubernetes/base/gateway/nginx.conf)."""
    header = (
        "# GENERATED by scripts/gen_gateway_conf.py from src/flightctl/deploy/nginx/gateway.conf.template\n"
        "# (the local gateway's template, rendered for the cluster); do not edit by hand.\n"
    )
    return header + render(
        upstream=lambda service: f"{service}:{SERVICE_HTTP_PORT}",
        http_listen=str(CLUSTER_HTTP_PORT),
        https_listen=str(CLUSTER_HTTPS_PORT),
        https_port_suffix="",
        cert=f"{CLUSTER_TLS_DIR}/tls.crt",
        key=f"{CLUSTER_TLS_DIR}/tls.key",
        pid_file="/tmp/nginx.pid",  # noqa: S108 - the container's own /tmp (an emptyDir)
        error_log="stderr",
        access_log="/dev/stdout",
        temp_dir="/tmp",  # noqa: S108
    )


def cluster_config_file() -> Path:
    """Where the rendered cluster configuration is committed."""
    return deploy.root() / "kubernetes" / "base" / "gateway" / "nginx.conf"
