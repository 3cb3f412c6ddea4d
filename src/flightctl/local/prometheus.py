"""Prometheus (Debian package) scraping every service's /metrics."""

from __future__ import annotations

import shutil
from pathlib import Path

from flightctl.errors import PrerequisiteMissing
from flightctl.platform.layout import SERVICES, Home, State

SCRAPE_INTERVAL = "5s"


def binary() -> str:
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if not found:
        raise PrerequisiteMissing("Prometheus not found; install it: apt-get install -y prometheus")
    return found


def write_config(home: Home, state: State) -> Path:
    import yaml

    directory = home.path("prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": service,
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{state.ports.http(service)}"], "labels": {"service": service}}
                ],
            }
            for service in SERVICES
        ],
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def command(home: Home, state: State, config: Path) -> list[str]:
    return [
        binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={home.path('prometheus', 'data')}",
        "--storage.tsdb.retention.time=7d",
        f"--web.listen-address=127.0.0.1:{state.ports.prometheus}",
        "--log.level=warn",
    ]
