"""The NGINX gateway: TLS, the SPEC's path prefixes, HTTP redirected to HTTPS, JSON errors."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from flightctl import deploy
from flightctl.errors import PrerequisiteMissing
from flightctl.platform.layout import GATEWAY_PREFIXES, Home, State

PREFIXES = {prefix: service for service, prefix in GATEWAY_PREFIXES.items()}  # path prefix -> service
MATCH = "nginx: master process"


def binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise PrerequisiteMissing("NGINX not found; install it: apt-get install -y nginx-light")
    return found


def render(home: Home, state: State, cert: Path, key: Path) -> Path:
    prefix = home.path("nginx")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    locations = "\n".join(
        f"        location /{path}/ {{\n"
        f"            proxy_pass http://127.0.0.1:{state.ports.http(service)}/;\n"
        "        }\n"
        f"        location = /{path} {{\n"
        f"            return 301 /{path}/;\n"
        "        }"
        for path, service in PREFIXES.items()
    )
    text = fill(
        deploy.path("nginx", "gateway.conf.template").read_text(),
        user_directive="user www-data;" if os.geteuid() == 0 else "",
        prefix=prefix,
        logs=home.logs,
        http_port=state.ports.gateway_http,
        https_port=state.ports.gateway_https,
        cert=cert,
        key=key,
        locations=locations,
        prefix_list=", ".join(f'"/{p}/"' for p in PREFIXES),
        prefix_names=", ".join(f"/{p}/" for p in PREFIXES),
    )
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


def fill(template: str, **values: object) -> str:
    """Replace every {{name}}; a name without a value is an error (a broken template)."""

    def value(match: re.Match[str]) -> str:
        return str(values[match.group(1)])

    return re.sub(r"\{\{(\w+)\}\}", value, template)


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
