"""`flightctl sla get|set|stats` against the platform's detector, through CliRunner on a fresh
Typer app holding only a root callback (the context object, as main.py builds it) and the sla
group."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from flightctl.cli import sla
from flightctl.cli.context import Context
from flightctl.clients.api import ApiError
from flightctl.errors import UsageError
from flightctl.platform.layout import Home
from tests.conftest import Platform


class Cli:
    def __init__(self, platform: Platform) -> None:
        self.app = typer.Typer()

        self.contexts: list[Context] = []

        @self.app.callback()
        def root(ctx: typer.Context, output: Annotated[str, typer.Option("-o", "--output")] = "table") -> None:
            ctx.obj = Context(home=Home(platform.home), output=output)
            self.contexts.append(ctx.obj)

        sla.register(self.app)
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        try:
            return self.runner.invoke(self.app, list(args))
        finally:  # the process would end here; in a test, close what the command opened
            for context in self.contexts:
                context.close()
            self.contexts.clear()

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok("-o", "json", *args).stdout)


@pytest.fixture
def cli(platform: Platform) -> Cli:
    return Cli(platform)


def test_sla_get(cli: Cli, sla_client: httpx.Client) -> None:
    config = sla_client.get("/sla/config").json()
    assert cli.json("sla", "get") == config
    assert yaml.safe_load(cli.ok("-o", "yaml", "sla", "get").stdout) == config
    table = cli.ok("sla", "get").stdout
    assert table.splitlines()[0].split() == ["NAME", "MIN", "MAX", "TYPE", "QUERY"]
    for rule in config["metrics"]:
        assert rule["name"] in table
    assert f"settings.t_check  {config['settings']['t_check']}" in table


def test_sla_set_one_metric_by_flags_then_a_whole_file(cli: Cli, sla_client: httpx.Client, tmp_path: Path) -> None:
    original = sla_client.get("/sla/config").json()
    name = f"cli_{uuid.uuid4().hex[:8]}"

    added = cli.json("sla", "set", "--name", name, "--query", "avg(up)", "--min", "0.5", "--max", "1")
    assert added["metrics"][:-1] == original["metrics"]  # the others are kept as they were
    assert added["metrics"][-1] == {"name": name, "type": "gauge", "query": "avg(up)", "min": 0.5, "max": 1}
    assert sla_client.get("/sla/config").json() == added

    changed = cli.json("sla", "set", "--name", name, "--max", "2")
    assert changed["metrics"][-1] == {"name": name, "type": "gauge", "query": "avg(up)", "min": 0.5, "max": 2}

    slower = cli.json("sla", "set", "--t-check", "40")
    assert slower["settings"]["t_check"] == 40 and slower["metrics"] == changed["metrics"]

    file = tmp_path / "sla.yaml"
    file.write_text(yaml.safe_dump(original, sort_keys=False))
    table = cli.ok("sla", "set", "-f", str(file)).stdout
    assert name not in table
    assert sla_client.get("/sla/config").json() == original


def test_sla_set_errors_carry_the_server_s_message_and_exit_code(cli: Cli, sla_client: httpx.Client) -> None:
    before = sla_client.get("/sla/config").json()
    name = f"cli_{uuid.uuid4().hex[:8]}"

    result = cli("sla", "set", "--name", name, "--query", "avg(up)", "--min", "5", "--max", "1")
    assert isinstance(result.exception, ApiError)
    assert result.exception.exit_code == 2 and result.exception.status == 400
    assert result.exception.message == (
        f"sla-breach-detector: metrics[{len(before['metrics'])}] ({name}): min (5) must be <= max (1) (HTTP 400)"
    )

    result = cli("sla", "set", "--t-check", "10")
    assert isinstance(result.exception, ApiError)
    assert "so t_check must be at least 25s" in result.exception.message

    for args, message in [
        (("--name", name, "--max", "3"), f"metric '{name}' is new: --query, --min needed to add it"),
        ((), "nothing to set"),
        (("-f", "/nonexistent/sla.yaml"), "cannot read /nonexistent/sla.yaml"),
        (("-f", "x.yaml", "--name", name), "give either -f FILE or"),
        (("--query", "avg(up)"), "--query, --min and --max change the metric named by --name"),
    ]:
        result = cli("sla", "set", *args)
        assert isinstance(result.exception, UsageError), (args, result.output)
        assert result.exception.exit_code == 2
        assert message in result.exception.message
    assert sla_client.get("/sla/config").json() == before  # nothing was posted


def test_sla_stats(cli: Cli, sla_client: httpx.Client) -> None:
    stats = cli.json("sla", "stats")
    assert set(stats) == set(sla_client.get("/breach/stats").json())
    names = [m["name"] for m in sla_client.get("/sla/config").json()["metrics"]]
    assert set(names) <= set(stats)
    table = cli.ok("sla", "stats").stdout.splitlines()
    assert table[0].split() == [
        "METRIC",
        "LOW_BREACHES",
        "HIGH_BREACHES",
        "LAST_VALUE",
        "LAST_CHECK",
        "NO_DATA",
        "ERRORS",
    ]
    assert {line.split()[0] for line in table[1:]} == set(stats)
