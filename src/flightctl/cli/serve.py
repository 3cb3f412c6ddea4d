"""`flightctl serve SERVICE` and `flightctl version`: run one service in this process, and say
which versions the platform is made of."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from flightctl.cli.output import emit
from flightctl.errors import UsageError
from flightctl.platform.layout import MODULES, SERVICES

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's


@cli.command()
def serve(
    service: Annotated[str, typer.Argument(help=", ".join(SERVICES))],
) -> None:
    """Run one service in the foreground, configured by its environment variables (as
    `python -m flightctl.services.<name>`); SIGTERM or Ctrl-C stops it cleanly."""
    if service not in SERVICES:
        raise UsageError(f"unknown service {service}; choose from {', '.join(SERVICES)}")
    module = importlib.import_module(f"{MODULES[service]}.app")
    module.main()


@cli.command()
def version(ctx: typer.Context) -> None:
    """The flightctl version, and the PostgreSQL, Kafka, Prometheus and NGINX versions the
    platform of the current context runs (local: the installed binaries; kind: the images)."""
    from flightctl.versions import report

    result = report(ctx.obj.platform())
    if ctx.obj.output != "table":
        emit(result, ctx.obj.output)
        return
    lines = [f"flightctl-platform {result['flightctl']}", f"context            {result['context']}"]
    for name, info in result["components"].items():
        lines.append(f"{name:<19}{info['version'] or '-':<12}{info['source']}")
    typer.echo("\n".join(lines))
