"""Platform lifecycle: up, down, status, logs, certs, auth token (and scoped tokens), port-forward.

Each command works on the platform of the current context (``ctx.obj.platform()``: local, kind
or cluster) through one interface; --local / --kind / --kube-context only choose the context."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from flightctl.cli.context import FLIGHTCTL_PORT_BASE, Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError, UsageError
from flightctl.platform.interface import KIND_UP_TIMEOUT, LOCAL_UP_TIMEOUT

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
auth = typer.Typer(name="auth", help="API tokens.", no_args_is_help=True)
token_commands = typer.Typer(
    name="token",
    help="Print the platform's bootstrap API token (scope admin); create, list and revoke scoped tokens.",
    invoke_without_command=True,
)
auth.add_typer(token_commands)
port_forward = typer.Typer(
    name="port-forward",
    help="kind, cluster: forward a local port on 127.0.0.1 to a service, the gateway or Prometheus "
    "(kubectl port-forward).",
    no_args_is_help=True,
)

# The options that name an existing cluster (the `cluster` context), shared by up, doctor and
# `context use cluster`.
KubeContext = Annotated[
    str | None,
    typer.Option(
        "--kube-context",
        help="deploy to this existing cluster (a kubectl context) instead of Kind: the context `cluster`, "
        "remembered in $FLIGHTCTL_HOME/config.json",
    ),
]
Kubeconfig = Annotated[
    str | None, typer.Option("--kubeconfig", help="cluster: the kubeconfig file of --kube-context (default kubectl's)")
]
ImageLoad = Annotated[
    str | None,
    typer.Option(
        "--image-load",
        help="cluster: how the images reach its nodes: containerd (docker save | ctr import; its one node is this "
        "machine), registry (docker push to --registry), kind (kind load; a kind-NAME context)",
    ),
]
Registry = Annotated[
    str | None,
    typer.Option("--registry", help="cluster: push the images to HOST[:PORT][/PREFIX] and deploy them by digest"),
]
ContainerdAddress = Annotated[
    str | None,
    typer.Option("--containerd-address", help="cluster, --image-load containerd: its socket (default ctr's)"),
]


def cluster_options_given(*values: object) -> bool:
    return any(value is not None for value in values)


@cli.command()
def up(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local", help="run everything as local processes")] = False,
    kind: Annotated[bool, typer.Option("--kind", help="run on a Kind cluster (as --context kind)")] = False,
    kube_context: KubeContext = None,
    kubeconfig: Kubeconfig = None,
    image_load: ImageLoad = None,
    registry: Registry = None,
    containerd_address: ContainerdAddress = None,
    multi_node: Annotated[
        bool, typer.Option("--multi-node", help="kind: 1 control plane + 2 workers, replicated services")
    ] = False,
    ingress: Annotated[
        bool | None,
        typer.Option(
            "--ingress/--no-ingress",
            help="kind, cluster: an Ingress (class nginx) in front of the gateway; on Kind with the vendored "
            "ingress-nginx controller (default: no Ingress, the gateway alone)",
        ),
    ] = None,
    python_image: Annotated[
        str | None,
        typer.Option(
            "--python-image",
            envvar="FLIGHTCTL_PYTHON_IMAGE",
            help="kind, cluster: the images' Python base (the Dockerfile's PYTHON_IMAGE), e.g. a locally built one "
            "where no registry is reachable",
        ),
    ] = None,
    wheelhouse: Annotated[
        Path | None,
        typer.Option(
            "--wheelhouse",
            envvar="FLIGHTCTL_WHEELHOUSE",
            help="kind, cluster: wheels the images install from with no network (default "
            "~/.cache/flightctl/wheelhouse; missing ones are fetched there with pip download)",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="kind, cluster: print every command in order, run none (implies --kind unless cluster)"
        ),
    ] = False,
    port_base: Annotated[
        int | None, typer.Option("--port-base", envvar=FLIGHTCTL_PORT_BASE, help="local: first port of the range")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help=f"seconds to wait for health (local {LOCAL_UP_TIMEOUT:.0f}, "
            f"cluster per workload {KIND_UP_TIMEOUT:.0f})"
        ),
    ] = None,
) -> None:
    """Bring the platform up and wait until every component is healthy.

    Without --local, --kind or --kube-context, and with no context chosen (--context,
    FLIGHTCTL_CONTEXT, `flightctl context use`), `up` creates the Kind cluster.
    --kube-context deploys to an existing cluster instead (the context `cluster`; images built
    here and delivered by --image-load or --registry), remembered for status, logs,
    port-forward and down (`flightctl --context cluster ...`)."""
    from flightctl.cli.context import remember_target, target_from_options
    from flightctl.kind.platform import BuildOptions

    obj: Context = ctx.obj
    cluster = cluster_options_given(kube_context, kubeconfig, image_load, registry, containerd_address)
    obj.choose(
        local,
        kind or multi_node or (dry_run and not local and not cluster and obj.context != "cluster"),
        default="kind",
        cluster=cluster,
    )
    if obj.context == "cluster":
        obj.cluster_target = target_from_options(
            obj.home,
            kube_context,
            kubeconfig=kubeconfig,
            image_load=image_load,
            registry=registry,
            containerd_address=containerd_address,
        )
        if not dry_run:
            remember_target(obj.home, obj.cluster_target)
    obj.build = BuildOptions.from_environ(os.environ, python_image=python_image, wheelhouse=wheelhouse)
    options: dict[str, Any] = {"multi_node": multi_node}
    if ingress is not None:
        options["ingress"] = ingress
    status = obj.platform(dry_run, echo=typer.echo).up(os.environ, Path.cwd(), port_base, timeout, **options)
    if status is not None:  # None: a dry run, which printed its plan
        emit(status if obj.output != "table" else _summary(status), obj.output)


@cli.command()
def down(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local")] = False,
    kind: Annotated[bool, typer.Option("--kind", help="delete the Kind cluster (as --context kind)")] = False,
    purge: Annotated[bool, typer.Option("--purge", help="also delete all data")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="kind, cluster: print the commands, run none")] = False,
    components: Annotated[
        list[str] | None, typer.Argument(help="stop only these (e.g. data-collector); `up` restarts them")
    ] = None,
) -> None:
    """Stop every process the platform started (data is kept unless --purge), or only the named ones.
    With --kind: stop the port-forwards and delete the cluster (its volumes go with it).
    In the context cluster: stop the port-forwards and delete the namespace flightctl (its
    volumes go with it; the cluster stays). Without either, and with no context chosen: the
    local platform if this home has one."""
    obj: Context = ctx.obj
    obj.choose(local, kind or (dry_run and not local and obj.context != "cluster"), default=obj.existing())
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
    service: Annotated[
        str, typer.Argument(help="a service, or postgres, kafka, prometheus, gateway, gateway-access (local)")
    ],
    follow: Annotated[bool, typer.Option("-f", "--follow")] = False,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1)] = 50,
) -> None:
    """Show a component's log (kind, cluster: its pods' log through kubectl)."""
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


@token_commands.callback()
def auth_token(ctx: typer.Context) -> None:
    """Without a subcommand: print the bootstrap API token the platform runs with (scope admin)."""
    if ctx.invoked_subcommand is not None:
        return
    token = ctx.obj.token()
    if not token:
        raise FlightctlError("no API token yet; `flightctl up --local` generates one")
    typer.echo(token)


class Scope(enum.StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


SCOPE_HELP = "read: GET; write: read and changes; admin: write, SLA config, user deletion, tokens"
TOKEN_COLUMNS = ("id", "name", "scope", "created_at", "last_used_at", "revoked")


@token_commands.command("create")
def auth_token_create(
    ctx: typer.Context,
    scope: Annotated[Scope, typer.Option("--scope", help=SCOPE_HELP)],
    name: Annotated[str | None, typer.Option("--name", help="what the token is for (default: '<scope> token')")] = None,
) -> None:
    """Create a scoped API token and print it, this once (only its SHA-256 is stored). Table
    output prints the token alone on stdout; json and yaml the whole record."""
    created = ctx.obj.users.create_token(scope.value, name)
    if ctx.obj.output == "table":
        ctx.obj.progress(
            f"created API token {created['id']} ({created['scope']}, {created['name']!r}); "
            "it is shown only this once: store it now"
        )
        typer.echo(created["token"])
    else:
        emit(created, ctx.obj.output)


@token_commands.command("list")
def auth_token_list(ctx: typer.Context) -> None:
    """List the scoped API tokens (never the tokens themselves), revoked ones too."""
    fmt = ctx.obj.output
    emit(ctx.obj.users.list_tokens(), fmt, TOKEN_COLUMNS if fmt == "table" else None)


@token_commands.command("revoke")
def auth_token_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(metavar="ID", help="the id `auth token list` shows")]
) -> None:
    """Revoke a scoped API token: every service refuses it within 5 seconds, no restart."""
    emit(ctx.obj.users.revoke_token(token_id), ctx.obj.output)


@port_forward.command("start")
def port_forward_start(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="a service, gateway, or prometheus")],
    port: Annotated[int | None, typer.Option("--port", help="local port (default: a free one)")] = None,
) -> None:
    """Start forwarding in the background; the CLI then talks to the service (or, for the
    gateway, to every public service) through it."""
    from flightctl.kind import portforward

    obj: Context = ctx.obj
    result = portforward.start(obj.home, obj.kind_runner(), service, port, target=obj.target())
    obj.progress(f"{service} is forwarded to {result.url} (pid {result.pid})")
    emit(result.as_dict(), obj.output)


@port_forward.command("list")
def port_forward_list(ctx: typer.Context) -> None:
    """The running forwards."""
    from flightctl.kind import portforward

    rows = [f.as_dict() for f in portforward.listing(ctx.obj.home, ctx.obj.target())]
    emit(rows, ctx.obj.output, columns=("service", "url", "pid"))


@port_forward.command("stop")
def port_forward_stop(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="the services to stop (default: all)")] = None,
) -> None:
    """Stop forwards."""
    from flightctl.kind import portforward

    target = ctx.obj.target()
    if services:
        stopped = [name for name in services if portforward.stop(ctx.obj.home, name, target)]
    else:
        stopped = portforward.stop_all(ctx.obj.home, target=target)
    typer.echo(f"stopped: {', '.join(stopped) if stopped else 'no forward was running'}", err=True)


def _summary(status: dict[str, Any]) -> str:
    gateway = (
        f"{status['gateway']}  (http {status['gateway_http']})"
        if status.get("gateway")
        else "- (flightctl port-forward start gateway)"
    )
    lines = [
        *([f"cluster     {status['mode']} {status['cluster']}"] if "cluster" in status else []),
        f"gateway     {gateway}",
        f"prometheus  {status['prometheus'] or '- (flightctl port-forward start prometheus)'}",
        f"kafka       {status['kafka']}",
        f"postgres    {status.get('postgres', '-')}",
        "",
    ]
    # As wide as the longest URL (a forwarded gateway's, https://127.0.0.1:PORT/user-manager, is 36).
    width = max([28, *(len(info["url"] or "-") + 2 for info in status["services"].values())])
    supervised = all("restarts" in info for info in status["services"].values())
    lines.append(f"{'SERVICE':<22}{'URL':<{width}}{'HEALTHY':<9}" + ("RESTARTS  LAST EXIT" if supervised else ""))
    for name, info in status["services"].items():
        line = f"{name:<22}{info['url'] or '-':<{width}}{'yes' if info['healthy'] else 'NO':<9}"
        if supervised:
            line += f"{info['restarts']:<10}{_last_exit(info)}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def _last_exit(info: dict[str, Any]) -> str:
    """The reason of a supervised process's last exit, and when it starts again while it backs off."""
    shown = info.get("last_exit") or "-"
    if "restarting_in" in info:
        shown += f" (restarting in {info['restarting_in']:g}s)"
    return str(shown)


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
