"""`flightctl loadtest` against the platform's data-collector, through the real CLI (CliRunner)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from typer.testing import Result

from tests.conftest import Platform
from tests.integration.cli.conftest import invoke as invoke_cli
from tests.integration.data_collector.conftest import flight_row, insert_flights, now


def invoke(platform: Platform, *args: str) -> Result:
    return invoke_cli(platform.env, *args)


def test_loadtest_reports_throughput_and_latency(
    platform: Platform, dc_engine: Engine, new_airport: Callable[[], str]
) -> None:
    x = new_airport()
    t = now()
    insert_flights(
        dc_engine,
        [flight_row(f"lt{i:04d}", t - timedelta(hours=i + 2), t - timedelta(hours=i), x, None) for i in range(5)],
    )
    result = invoke(platform, "-o", "json", "loadtest", "--airport", x.lower(), "--clients", "3", "--duration", "0.5")
    assert result.exit_code == 0, (result.output, result.exception)
    report: dict[str, Any] = json.loads(result.stdout)
    # Every client makes at least one request, each starting on another endpoint.
    assert report["clients"] == 3 and report["errors"] == 0 and report["requests"] >= 3
    assert report["requests_per_second"] > 0
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["p99_ms"]
    assert set(report["endpoints"]) == {"list", "average", "last"}
    assert all(e["requests"] > 0 and e["errors"] == 0 for e in report["endpoints"].values())

    table = invoke(platform, "loadtest", "--airport", x, "--clients", "1", "--duration", "0.2")
    assert table.exit_code == 0 and "requests_per_second" in table.stdout


def test_loadtest_counts_errors_and_rejects_bad_options(platform: Platform) -> None:
    unreachable = invoke(
        platform, "-o", "json", "loadtest", "--url", "http://127.0.0.1:9", "--clients", "2", "--duration", "0.2"
    )
    assert unreachable.exit_code == 1, unreachable.output  # the report is printed, the run fails
    report = json.loads(unreachable.stdout)
    assert report["requests"] > 0 and report["errors"] == report["requests"]
    assert "ConnectError" in report["error_samples"][0]
    assert invoke(platform, "loadtest", "--clients", "0").exit_code == 2
