"""Platform lifecycle: up, down, status, logs, certs, auth token, port-forward."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flightctl.cli.context import FLIGHTCTL_PORT_BASE, Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError, UsageError

if TYPE_CHECKING:
    from flightctl.kind.platform import KindPlatform
    from flightctl.kind.runner import Runner
    from flightctl.local.platform import LocalPlatform

LOCAL_TIMEOUT = 180.0
KIND_TIMEOUT = 600.0


def _kind_runner() -> Runner:
    """The runner for docker, kind and kubectl (tests replace this function)."""
    from flightctl.kind.runner import SubprocessRunner

    return SubprocessRunner()


def _choose(ctx: Context, local: bool, kind: bool, default: str | None = None) -> None:
    """--local / --kind on the command override the global --context; when no context was
    chosen at all (no --context, FLIGHTCTL_CONTEXT or `flightctl context use`), ``default``."""
    if local and kind:
        raise UsageError("--local and --kind exclude each other")
    if local:
        ctx.context = "local"
    elif kind:
        ctx.context = "kind"
    elif default is not None and ctx.context_source == "default":
        ctx.context = default


def _existing(ctx: Context) -> str:
    """The platform `down` stops when none was named: the local one if this home has one,
    else the Kind cluster when kind is installed (else there is nothing to stop)."""
    if ctx.home.load_state() is not None or _kind_runner().which("kind") is None:
        return "local"
    return "kind"


def _platform(ctx: Context) -> LocalPlatform | KindPlatform:
    return _kind(ctx) if ctx.context == "kind" else _local(ctx)


def _kind(ctx: Context, dry_run: bool = False) -> KindPlatform:
    from flightctl.kind.platform import KindPlatform

    return KindPlatform(ctx.home, _kind_runner(), ctx.progress, dry_run=dry_run, echo=typer.echo)


def _local(ctx: Context) -> LocalPlatform:
    from flightctl.local.platform import LocalPlatform

    return LocalPlatform(ctx.home, ctx.progress)


def register(app: typer.Typer) -> None:
    @app.command()
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
                help=f"seconds to wait for health (local {LOCAL_TIMEOUT:.0f}, kind per workload {KIND_TIMEOUT:.0f})"
            ),
        ] = None,
    ) -> None:
        """Bring the platform up and wait until every component is healthy.

        Without --local or --kind, and with no context chosen (--context, FLIGHTCTL_CONTEXT,
        `flightctl context use`), `up` creates the Kind cluster (SPEC section 2)."""
        obj: Context = ctx.obj
        _choose(obj, local, kind or multi_node or (dry_run and not local), default="kind")
        if obj.context == "kind":
            status = _kind(obj, dry_run).up(
                os.environ, Path.cwd(), multi_node=multi_node, ingress=ingress, timeout=timeout or KIND_TIMEOUT
            )
            if dry_run:
                return
        else:
            if dry_run or multi_node or not ingress:
                raise UsageError("--dry-run, --multi-node and --no-ingress apply to the kind cluster only")
            status = _local(obj).up(os.environ, Path.cwd(), port_base, timeout or LOCAL_TIMEOUT)
        emit(status if obj.output != "table" else _summary(status), obj.output)

    @app.command()
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
        _choose(obj, local, kind or (dry_run and not local), default=_existing(obj))
        if purge and components:
            raise UsageError("--purge removes all data; it cannot be combined with component names")
        if obj.context == "kind":
            if components:
                raise UsageError("the kind cluster is deleted as a whole; scale a workload with kubectl instead")
            stopped = _kind(obj, dry_run).down(purge)
            if dry_run:
                return
        else:
            if dry_run:
                raise UsageError("--dry-run applies to the kind cluster only")
            stopped = _local(obj).down(purge, components or ())
        typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}", err=True)

    @app.command()
    def status(
        ctx: typer.Context,
        wait: Annotated[bool, typer.Option("--wait", help="wait until every service is healthy")] = False,
        timeout: Annotated[float, typer.Option("--timeout", min=0, help="seconds --wait waits")] = 120.0,
    ) -> None:
        """Where everything is and whether it is healthy (--wait: until it is)."""
        obj: Context = ctx.obj
        platform = _platform(obj)
        if wait:
            from flightctl.cli.ops import wait_healthy

            result = wait_healthy(platform.status, timeout, obj.progress)
        else:
            result = platform.status()
        emit(result if obj.output != "table" else _summary(result), obj.output)

    @app.command()
    def logs(
        ctx: typer.Context,
        service: Annotated[
            str, typer.Argument(help="a service, or postgres, kafka, prometheus, gateway, gateway-access")
        ],
        follow: Annotated[bool, typer.Option("-f", "--follow")] = False,
        lines: Annotated[int, typer.Option("-n", "--lines", min=1)] = 50,
    ) -> None:
        """Show a component's log (kind: its pods' log through kubectl)."""
        obj: Context = ctx.obj
        if obj.context == "kind":
            from flightctl.kind import layout

            if service not in layout.FORWARDABLE:
                raise UsageError(f"unknown workload {service}; choose from {', '.join(layout.FORWARDABLE)}")
            command = [
                "kubectl", "--context", layout.KUBE_CONTEXT, "-n", layout.NAMESPACE, "logs",
                f"deployment/{service}", "--all-containers", f"--tail={lines}", *(["-f"] if follow else []),
            ]  # fmt: skip
            if not follow:
                result = _kind_runner().run(command)
                if not result.ok:
                    raise FlightctlError(f"kubectl logs failed: {(result.stderr or result.stdout).strip()[:300]}")
                typer.echo(result.stdout, nl=False)
                return
        else:
            from flightctl.local.layout import LOG_NAMES
            from flightctl.local.proc import tail

            if service not in LOG_NAMES:
                raise UsageError(f"unknown component {service}; choose from {', '.join(LOG_NAMES)}")
            path = obj.home.log_file(LOG_NAMES[service])
            if not path.exists():
                raise FlightctlError(f"no log for {service} yet in {obj.home.logs}; is the platform up?")
            if not follow:
                typer.echo(tail(path, lines))
                return
            command = ["tail", "-n", str(lines), "-F", str(path)]
        try:
            subprocess.run(command, check=False)
        except FileNotFoundError:
            raise FlightctlError(f"{command[0]} is not installed; see `flightctl doctor`") from None
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
    app.add_typer(_port_forward(), name="port-forward")


def _port_forward() -> typer.Typer:
    forward = typer.Typer(
        help="kind: forward a local port on 127.0.0.1 to a service of the cluster (kubectl port-forward).",
        no_args_is_help=True,
    )

    @forward.command("start")
    def start(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="a service, or prometheus")],
        port: Annotated[int | None, typer.Option("--port", help="local port (default: a free one)")] = None,
    ) -> None:
        """Start forwarding in the background; the CLI then talks to the service through it."""
        from flightctl.kind import portforward

        result = portforward.start(ctx.obj.home, _kind_runner(), service, port)
        ctx.obj.progress(f"{service} is forwarded to {result.url} (pid {result.pid})")
        emit(result.as_dict(), ctx.obj.output)

    @forward.command("list")
    def list_(ctx: typer.Context) -> None:
        """The running forwards."""
        from flightctl.kind import portforward

        rows = [f.as_dict() for f in portforward.listing(ctx.obj.home)]
        emit(rows, ctx.obj.output, columns=("service", "url", "pid"))

    @forward.command("stop")
    def stop(
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

    return forward


def _summary(status: dict) -> str:  # type: ignore[type-arg]
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
