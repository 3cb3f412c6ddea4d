"""The flightctl root: global options, the context object, command groups, error handling.

Heavy imports (httpx, the service packages, kafka) are deferred into the commands so that
`flightctl --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from flightctl.cli import data, platform
from flightctl.cli.context import FLIGHTCTL_CONTEXT, FLIGHTCTL_HOME, FLIGHTCTL_TOKEN, Context
from flightctl.errors import FlightctlError

app = typer.Typer(
    name="flightctl",
    help="Operate the flightctl flight-monitoring platform, locally or on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    context: Annotated[str, typer.Option("--context", envvar=FLIGHTCTL_CONTEXT, help="local or kind")] = "local",
    output: Annotated[str, typer.Option("-o", "--output", help="table, json or yaml")] = "table",
    token: Annotated[str | None, typer.Option("--token", envvar=FLIGHTCTL_TOKEN, help="API token override")] = None,
    home: Annotated[
        str | None, typer.Option("--home", envvar=FLIGHTCTL_HOME, help="state directory (default ./.flightctl)")
    ] = None,
) -> None:
    from flightctl.local.layout import Home

    if context not in ("local", "kind"):
        raise typer.BadParameter("must be local or kind", param_hint="--context")
    if output not in ("table", "json", "yaml"):
        raise typer.BadParameter("must be table, json or yaml", param_hint="--output")
    ctx.obj = Context(home=Home.from_env(home), context=context, output=output, token_override=token)


platform.register(app)
data.register(app)


def run() -> None:
    try:
        app(standalone_mode=False)
    except FlightctlError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
