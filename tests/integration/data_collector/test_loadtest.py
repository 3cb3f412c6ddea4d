"""`flightctl loadtest` (Locust, headless, through the gateway) against the session's platform,
through the real CLI (CliRunner); each run bounded to a few seconds."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import Result

from flightctl.cli import loadtest
from flightctl.errors import PREREQUISITE
from flightctl.local.platform import component_pid
from flightctl.platform.layout import Home
from tests.conftest import Platform
from tests.integration.cli.conftest import invoke as invoke_cli
from tests.integration.data_collector.conftest import flight_row, insert_flights, now


def invoke(platform: Platform, *args: str) -> Result:
    return invoke_cli(platform.env, *args)


def test_loadtest_runs_the_mix_through_the_gateway(platform: Platform, dc_engine: Engine) -> None:
    # EGLL has flights; the other airports of the mix may have none: 404 counts as success.
    t = now()
    insert_flights(
        dc_engine,
        [flight_row(f"lt{i:04d}", t - timedelta(hours=i + 2), t - timedelta(hours=i), "EGLL", None) for i in range(5)],
    )
    result = invoke(platform, "-o", "json", "loadtest", "--users", "8", "--spawn-rate", "8", "--duration", "4s")
    assert result.exit_code == 0, (result.output, result.exception)
    report: dict[str, Any] = json.loads(result.stdout)
    endpoints = {e["endpoint"]: e for e in report["endpoints"]}
    # Every simulated user creates its user at start (and deletes it at the end: below).
    assert endpoints["POST /user-manager/users"]["requests"] >= 8
    assert all(e["failures"] == 0 for e in endpoints.values())
    total = report["aggregated"]
    assert total["failures"] == 0 and total["requests"] == sum(e["requests"] for e in endpoints.values())
    assert 0 < total["p50_ms"] <= total["p95_ms"] <= total["p99_ms"] and total["requests_per_second"] > 0
    # Peak memory of every service of the local platform, from /proc of each service's own
    # process: not its supervisor's (a process of ~14 MiB, which it measured for a while).
    assert set(report["peak_rss_mib"]) == set(loadtest.SERVICES)
    assert all(mib > 40 for mib in report["peak_rss_mib"].values()), report["peak_rss_mib"]
    home = Home(Path(platform.env["FLIGHTCTL_HOME"]))
    for name in loadtest.SERVICES:
        pid = component_pid(home, name)
        assert pid is not None, name
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "flightctl.local.supervisor" not in command, (name, command)
    files = report["files"]
    directory = Path(files["directory"])
    assert directory.parent == Path(platform.env["FLIGHTCTL_HOME"]) / "loadtests"
    assert Path(files["html"]).stat().st_size > 0 and "Request Count" in Path(files["csv"]).read_text()
    assert (directory / "locust_failures.csv").exists()

    with platform.client("user-manager") as users:
        assert not [u for u in users.get("/users").json() if u["email"].startswith("lt-")]

    table = invoke(platform, "loadtest", "-u", "1", "-r", "1", "-d", "1s")
    assert table.exit_code == 0, table.output
    assert "P95_MS" in table.stdout and "PEAK_RSS_MIB" in table.stdout and "data-collector" in table.stdout


def test_loadtest_counts_failures_and_exits_1(platform: Platform) -> None:
    result = invoke(
        platform, "-o", "json", "loadtest", "-u", "2", "-r", "2", "-d", "2s", "--host", "https://127.0.0.1:9"
    )
    assert result.exit_code == 1, result.output  # the report is printed, the run fails
    report = json.loads(result.stdout)
    assert report["aggregated"]["requests"] > 0
    assert report["aggregated"]["failures"] == report["aggregated"]["requests"]


def test_loadtest_without_locust_says_how_to_install_it(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadtest, "locust_installed", lambda: False)
    result = invoke(platform, "loadtest", "-d", "1s")
    assert result.exit_code == PREREQUISITE
    assert "pip install 'flightctl-platform[loadtest]'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_loadtest_rejects_bad_options(platform: Platform) -> None:
    assert invoke(platform, "loadtest", "--users", "0").exit_code == 2
    bad = invoke(platform, "loadtest", "--duration", "soon")
    assert bad.exit_code == 2 and "--duration" in bad.output
    assert loadtest.seconds("3m") == 180 and loadtest.seconds("1h30m") == 5400 and loadtest.seconds("45") == 45
