"""Platform lifecycle: up, down, status, logs, certs, auth token."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from flightctl.cli.context import FLIGHTCTL_PORT_BASE, Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError, UsageError


def _platform(ctx: Context):  # type: ignore[no-untyped-def]
    if ctx.context != "local":
        raise FlightctlError("the kind context is not available yet; use --local / --context local")
    from flightctl.local.platform import LocalPlatform

    return LocalPlatform(ctx.home, ctx.progress)


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        ctx: typer.Context,
        local: Annotated[bool, typer.Option("--local", help="run everything as local processes")] = False,
        port_base: Annotated[
            int | None, typer.Option("--port-base", envvar=FLIGHTCTL_PORT_BASE, help="first port of the range")
        ] = None,
        timeout: Annotated[float, typer.Option(help="seconds to wait for health")] = 180.0,
    ) -> None:
        """Bring the platform up and wait until every component is healthy."""
        obj: Context = ctx.obj
        if local:
            obj.context = "local"
        status = _platform(obj).up(os.environ, Path.cwd(), port_base, timeout)
        emit(status if obj.output != "table" else _summary(status), obj.output)

    @app.command()
    def down(
        ctx: typer.Context,
        local: Annotated[bool, typer.Option("--local")] = False,
        purge: Annotated[bool, typer.Option("--purge", help="also delete all data")] = False,
        components: Annotated[
            list[str] | None, typer.Argument(help="stop only these (e.g. data-collector); `up` restarts them")
        ] = None,
    ) -> None:
        """Stop every process the platform started (data is kept unless --purge), or only the named ones."""
        obj: Context = ctx.obj
        if local:
            obj.context = "local"
        if purge and components:
            raise UsageError("--purge removes all data; it cannot be combined with component names")
        stopped = _platform(obj).down(purge, components or ())
        typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}", err=True)

    @app.command()
    def status(ctx: typer.Context) -> None:
        """Where everything is and whether it is healthy."""
        obj: Context = ctx.obj
        result = _platform(obj).status()
        emit(result if obj.output != "table" else _summary(result), obj.output)

    @app.command()
    def logs(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="a service, or postgres, kafka, prometheus, gateway")],
        follow: Annotated[bool, typer.Option("-f", "--follow")] = False,
        lines: Annotated[int, typer.Option("-n", "--lines")] = 50,
    ) -> None:
        """Show a component's log."""
        obj: Context = ctx.obj
        path = obj.home.log_file(service)
        if not path.exists():
            raise UsageError(f"no log for {service} in {obj.home.logs}")
        command = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(path)]
        try:
            subprocess.run(command, check=False)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    @app.command()
    def certs(
        ctx: typer.Context,
        force: Annotated[bool, typer.Option("--force", help="replace a valid certificate")] = False,
    ) -> None:
        """Create the gateway's self-signed TLS certificate."""
        from flightctl.local.certs import make_self_signed

        cert, key = make_self_signed(ctx.obj.home.path("certs"), force=force)
        emit({"certificate": str(cert), "key": str(key)}, ctx.obj.output)

    auth = typer.Typer(help="API token.", no_args_is_help=True)

    @auth.command("token")
    def auth_token(ctx: typer.Context) -> None:
        """Print the API token the platform runs with."""
        token = ctx.obj.token()
        if not token:
            raise FlightctlError("no API token yet; `flightctl up --local` generates one")
        typer.echo(token)

    app.add_typer(auth, name="auth")


def _summary(status: dict) -> str:  # type: ignore[type-arg]
    lines = [
        f"gateway     {status['gateway']}  (http {status['gateway_http']})",
        f"prometheus  {status['prometheus']}",
        f"kafka       {status['kafka']}",
        f"postgres    {status.get('postgres', '-')}",
        "",
        f"{'SERVICE':<22}{'URL':<28}HEALTHY",
    ]
    for name, info in status["services"].items():
        lines.append(f"{name:<22}{info['url']:<28}{'yes' if info['healthy'] else 'NO'}")
    return "\n".join(lines)
