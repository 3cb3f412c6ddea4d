"""`flightctl context use|show`: which platform flightctl talks to (local, kind, or an existing
cluster), remembered under $FLIGHTCTL_HOME."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flightctl.cli.context import (
    CONFIG_FILE,
    Context,
    load_config,
    remembered_target,
    resolve_context,
    save_config,
    target_from_options,
)
from flightctl.cli.output import emit
from flightctl.cli.platform import ContainerdAddress, ImageLoad, Kubeconfig, KubeContext, Registry
from flightctl.errors import FlightctlError, UsageError
from flightctl.platform.interface import CLUSTER, CONTEXTS

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
context = typer.Typer(
    name="context", help="Which platform flightctl talks to: local, kind or cluster.", no_args_is_help=True
)


def _mask(token: str | None) -> str | None:
    if not token:
        return None
    return token[:4] + "…" if len(token) > 8 else "…"


@context.command("use")
def context_use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="local, kind or cluster")],
    set_token: Annotated[
        str | None, typer.Option("--set-token", help="remember this API token for the context")
    ] = None,
    clear_token: Annotated[bool, typer.Option("--clear-token", help="forget a remembered token")] = False,
    kube_context: KubeContext = None,
    kubeconfig: Kubeconfig = None,
    image_load: ImageLoad = None,
    registry: Registry = None,
    containerd_address: ContainerdAddress = None,
) -> None:
    """Make NAME the current context (and optionally remember its API token). For cluster,
    the options name the cluster and how images reach it (as `flightctl up --kube-context`
    does; what is not given is kept from the remembered cluster)."""
    obj: Context = ctx.obj
    if name not in CONTEXTS:
        raise UsageError(f"unknown context {name!r}: choose {', '.join(CONTEXTS)}")
    if set_token is not None and clear_token:
        raise UsageError("--set-token and --clear-token exclude each other")
    if set_token is not None and not set_token.strip():
        raise UsageError("--set-token needs a non-empty token")
    target_options = (kube_context, kubeconfig, image_load, registry, containerd_address)
    if name != CLUSTER and any(option is not None for option in target_options):
        raise UsageError("--kube-context and the image options name the cluster of the context cluster")
    config = load_config(obj.home)
    if name == CLUSTER:
        target = target_from_options(
            obj.home,
            kube_context,
            kubeconfig=kubeconfig,
            image_load=image_load,
            registry=registry,
            containerd_address=containerd_address,
        )
        config[CLUSTER] = target.to_config()
    config["context"] = name
    tokens = dict(config.get("tokens") or {})
    if set_token is not None:
        tokens[name] = set_token.strip()
    elif clear_token:
        tokens.pop(name, None)
    config["tokens"] = tokens
    save_config(obj.home, config)
    typer.echo(f"current context: {name} (saved in {obj.home.path(CONFIG_FILE)})", err=True)


@context.command("show")
def context_show(ctx: typer.Context) -> None:
    """The current context, where it came from, its token (masked) and the service addresses."""
    from flightctl.platform.layout import SERVICES

    obj: Context = ctx.obj
    _name, source = resolve_context(obj.home, None)
    if obj.context != _name:
        source = "option"  # --context or FLIGHTCTL_CONTEXT chose it for this command
    token, token_source = obj.token_and_source()
    services: dict[str, Any] = {}
    for service in SERVICES:
        try:
            services[service] = obj.service_url(service)
        except FlightctlError as exc:
            services[service] = f"unavailable: {exc.message}"
    cluster = remembered_target(obj.home)
    result = {
        "context": obj.context,
        "source": source,
        "home": str(obj.home.root),
        **({"cluster": cluster.to_config()} if obj.context == CLUSTER and cluster is not None else {}),
        "token": _mask(token),
        "token_source": token_source,
        "services": services,
    }
    if obj.output == "table":
        flat = {k: v for k, v in result.items() if k not in ("services", "cluster")}
        if cluster is not None and obj.context == CLUSTER:
            flat.update({f"cluster {key}": value for key, value in cluster.to_config().items()})
        flat.update({f"url {name}": url for name, url in services.items()})
        emit(flat, "table")
    else:
        emit(result, obj.output)


cli.add_typer(context)
