"""The flightctl root: global options, the context object, command groups, error handling.

Heavy imports (httpx, the service packages, kafka) are deferred into the commands so that
`flightctl --help` stays fast.
"""

from __future__ import annotations

import os
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


GLOBAL_OPTIONS = {"-o", "--output", "--context", "--token", "--home"}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Global options are accepted anywhere (`flightctl status -o json`): move them to the front."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if name in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def run() -> None:
    try:
        app(args=hoist_global_options(sys.argv[1:]), prog_name="flightctl", standalone_mode=False)
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
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):  # usage errors: exit 2 with click's message
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("FLIGHTCTL_DEBUG"):
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (FLIGHTCTL_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)
