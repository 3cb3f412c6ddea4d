"""`flightctl context use|show`: which platform flightctl talks to, remembered under $FLIGHTCTL_HOME."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flightctl.cli.context import CONFIG_FILE, Context, load_config, resolve_context, save_config
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError, UsageError
from flightctl.platform.interface import CONTEXTS

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
context = typer.Typer(name="context", help="Which platform flightctl talks to: local or kind.", no_args_is_help=True)


def _mask(token: str | None) -> str | None:
    if not token:
        return None
    return token[:4] + "…" if len(token) > 8 else "…"


@context.command("use")
def context_use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="local or kind")],
    set_token: Annotated[
        str | None, typer.Option("--set-token", help="remember this API token for the context")
    ] = None,
    clear_token: Annotated[bool, typer.Option("--clear-token", help="forget a remembered token")] = False,
) -> None:
    """Make NAME the current context (and optionally remember its API token)."""
    obj: Context = ctx.obj
    if name not in CONTEXTS:
        raise UsageError(f"unknown context {name!r}: choose local or kind")
    if set_token is not None and clear_token:
        raise UsageError("--set-token and --clear-token exclude each other")
    if set_token is not None and not set_token.strip():
        raise UsageError("--set-token needs a non-empty token")
    config = load_config(obj.home)
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
    result = {
        "context": obj.context,
        "source": source,
        "home": str(obj.home.root),
        "token": _mask(token),
        "token_source": token_source,
        "services": services,
    }
    if obj.output == "table":
        flat = {k: v for k, v in result.items() if k != "services"}
        flat.update({f"url {name}": url for name, url in services.items()})
        emit(flat, "table")
    else:
        emit(result, obj.output)


cli.add_typer(context)
