"""Platform lifecycle: up, down, status, logs, certs, auth token, port-forward.

Each command works on the platform of the current context (``ctx.obj.platform()``, local or
kind) through one interface; --local / --kind only choose the context."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from flightctl.cli.context import FLIGHTCTL_PORT_BASE, Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError, UsageError
from flightctl.platform.interface import KIND_UP_TIMEOUT, LOCAL_UP_TIMEOUT

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
auth = typer.Typer(name="auth", help="API token.", no_args_is_help=True)
port_forward = typer.Typer(
    name="port-forward",
    help="kind: forward a local port on 127.0.0.1 to a service of the cluster (kubectl port-forward).",
    no_args_is_help=True,
)


@cli.command()
def up(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local", help="run everything as local processes")] = False,
    kind: Annotated[bool, typer.Option("--kind", help="run on a Kind cluster (as --context kind)")] = False,
    multi_node: Annotated[
        bool, typer.Option("--multi-node", help="kind: 1 control plane + 2 workers, replicated services")
    ] = False,
    ingress: Annotated[
        bool, typer.Option("--ingress/--no-ingress", help="kind: install ingress-nginx (https://127.0.0.1/...)")
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="kind: print every command in order, run none (implies --kind)")
    ] = False,
    port_base: Annotated[
        int | None, typer.Option("--port-base", envvar=FLIGHTCTL_PORT_BASE, help="local: first port of the range")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help=f"seconds to wait for health (local {LOCAL_UP_TIMEOUT:.0f}, kind per workload {KIND_UP_TIMEOUT:.0f})"
        ),
    ] = None,
) -> None:
    """Bring the platform up and wait until every component is healthy.

    Without --local or --kind, and with no context chosen (--context, FLIGHTCTL_CONTEXT,
    `flightctl context use`), `up` creates the Kind cluster (SPEC section 2)."""
    obj: Context = ctx.obj
    obj.choose(local, kind or multi_node or (dry_run and not local), default="kind")
    status = obj.platform(dry_run, echo=typer.echo).up(
        os.environ, Path.cwd(), port_base, timeout, multi_node=multi_node, ingress=ingress
    )
    if status is not None:  # None: a dry run, which printed its plan
        emit(status if obj.output != "table" else _summary(status), obj.output)


@cli.command()
def down(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local")] = False,
    kind: Annotated[bool, typer.Option("--kind", help="delete the Kind cluster (as --context kind)")] = False,
    purge: Annotated[bool, typer.Option("--purge", help="also delete all data")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="kind: print the commands, run none")] = False,
    components: Annotated[
        list[str] | None, typer.Argument(help="stop only these (e.g. data-collector); `up` restarts them")
    ] = None,
) -> None:
    """Stop every process the platform started (data is kept unless --purge), or only the named ones.
    With --kind: stop the port-forwards and delete the cluster (its volumes go with it).
    Without either, and with no context chosen: the local platform if this home has one."""
    obj: Context = ctx.obj
    obj.choose(local, kind or (dry_run and not local), default=obj.existing())
    if purge and components:
        raise UsageError("--purge removes all data; it cannot be combined with component names")
    stopped = obj.platform(dry_run, echo=typer.echo).down(purge, components or ())
    if stopped is not None:  # None: a dry run, which printed its plan
        typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}", err=True)


@cli.command()
def status(
    ctx: typer.Context,
    wait: Annotated[bool, typer.Option("--wait", help="wait until every service is healthy")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0, help="seconds --wait waits")] = 120.0,
) -> None:
    """Where everything is and whether it is healthy (--wait: until it is)."""
    obj: Context = ctx.obj
    platform = obj.platform()
    if wait:
        from flightctl.cli.ops import wait_healthy

        result = wait_healthy(platform.status, timeout, obj.progress)
    else:
        result = platform.status()
    emit(result if obj.output != "table" else _summary(result) + _collector_summary(obj, result), obj.output)


@cli.command()
def logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="a service, or postgres, kafka, prometheus, gateway, gateway-access")],
    follow: Annotated[bool, typer.Option("-f", "--follow")] = False,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1)] = 50,
) -> None:
    """Show a component's log (kind: its pods' log through kubectl)."""
    try:
        ctx.obj.platform().logs(service, lines, follow, lambda text: typer.echo(text, nl=False))
    except KeyboardInterrupt:  # the end of --follow
        raise typer.Exit(130) from None


@cli.command()
def certs(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="replace a valid certificate")] = False,
) -> None:
    """Create the gateway's self-signed TLS certificate."""
    from flightctl.platform.certs import make_self_signed

    cert, key = make_self_signed(ctx.obj.home.path("certs"), force=force)
    emit({"certificate": str(cert), "key": str(key)}, ctx.obj.output)


@auth.command("token")
def auth_token(ctx: typer.Context) -> None:
    """Print the API token the platform runs with."""
    token = ctx.obj.token()
    if not token:
        raise FlightctlError("no API token yet; `flightctl up --local` generates one")
    typer.echo(token)


@port_forward.command("start")
def port_forward_start(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="a service, or prometheus")],
    port: Annotated[int | None, typer.Option("--port", help="local port (default: a free one)")] = None,
) -> None:
    """Start forwarding in the background; the CLI then talks to the service through it."""
    from flightctl.kind import portforward

    obj: Context = ctx.obj
    result = portforward.start(obj.home, obj.kind_runner(), service, port)
    obj.progress(f"{service} is forwarded to {result.url} (pid {result.pid})")
    emit(result.as_dict(), obj.output)


@port_forward.command("list")
def port_forward_list(ctx: typer.Context) -> None:
    """The running forwards."""
    from flightctl.kind import portforward

    rows = [f.as_dict() for f in portforward.listing(ctx.obj.home)]
    emit(rows, ctx.obj.output, columns=("service", "url", "pid"))


@port_forward.command("stop")
def port_forward_stop(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="the services to stop (default: all)")] = None,
) -> None:
    """Stop forwards."""
    from flightctl.kind import portforward

    if services:
        stopped = [name for name in services if portforward.stop(ctx.obj.home, name)]
    else:
        stopped = portforward.stop_all(ctx.obj.home)
    typer.echo(f"stopped: {', '.join(stopped) if stopped else 'no forward was running'}", err=True)


def _summary(status: dict[str, Any]) -> str:
    lines = [
        *([f"cluster     kind {status['cluster']}"] if "cluster" in status else []),
        f"gateway     {status['gateway']}  (http {status['gateway_http']})",
        f"prometheus  {status['prometheus'] or '- (flightctl port-forward start prometheus)'}",
        f"kafka       {status['kafka']}",
        f"postgres    {status.get('postgres', '-')}",
        "",
        f"{'SERVICE':<22}{'URL':<28}HEALTHY",
    ]
    for name, info in status["services"].items():
        lines.append(f"{name:<22}{info['url'] or '-':<28}{'yes' if info['healthy'] else 'NO'}")
    return "\n".join(lines)


def _collector_summary(obj: Context, status: dict[str, Any]) -> str:
    """The collector's credits and airports (`flightctl collector status`), when it answers."""
    if not (status.get("services", {}).get("data-collector") or {}).get("healthy"):
        return ""
    from flightctl.cli.collector import summary

    try:
        return "\n\nCOLLECTOR\n" + summary(obj.collector.collector_status())
    except FlightctlError as exc:
        return f"\n\nCOLLECTOR   - ({exc.message})"


cli.add_typer(auth)
cli.add_typer(port_forward)
