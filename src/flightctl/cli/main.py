"""The flightctl root: global options, the context object, the command table, error handling.

Each command module defines its commands at module level on a Typer of its own (``cli``); the
root group knows only which module holds which command (:data:`COMMANDS`) and imports a module
when one of its commands is run, listed (``--help``) or completed, through Click's own
``get_command``/``list_commands``. Heavy imports (httpx, yaml, the local platform, the service
packages) wait inside the commands, so that `flightctl --help` stays fast: bench/cli_help.py
measures it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Annotated, Any, NoReturn

# Typer renders help and errors with rich when it is installed; importing rich costs more than
# the rest of the CLI together. Plain help is the default; TYPER_USE_RICH=1 brings rich back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # after the default above: Typer reads it when imported
import typer.main
from typer.core import TyperGroup, TyperOption

from flightctl.cli.context import FLIGHTCTL_CONTEXT, FLIGHTCTL_HOME, FLIGHTCTL_TOKEN, Context, Dependencies
from flightctl.cli.output import finish_progress
from flightctl.errors import INTERRUPTED, FlightctlError

FLIGHTCTL_DEBUG = "FLIGHTCTL_DEBUG"
PROG_NAME = "flightctl"

# Every top-level command and the module whose ``cli`` defines it, in the order
# `flightctl --help` lists them.
COMMANDS: dict[str, str] = {
    "up": "flightctl.cli.platform",
    "down": "flightctl.cli.platform",
    "status": "flightctl.cli.platform",
    "logs": "flightctl.cli.platform",
    "certs": "flightctl.cli.platform",
    "collect": "flightctl.cli.data",
    "collector": "flightctl.cli.collector",
    "top": "flightctl.cli.top",
    "completion": "flightctl.cli.ops",
    "doctor": "flightctl.cli.doctor",
    "smoke": "flightctl.cli.smoke",
    "loadtest": "flightctl.cli.loadtest",
    "serve": "flightctl.cli.serve",
    "version": "flightctl.cli.serve",
    "auth": "flightctl.cli.platform",
    "port-forward": "flightctl.cli.platform",
    "users": "flightctl.cli.data",
    "interests": "flightctl.cli.data",
    "flights": "flightctl.cli.data",
    "notifications": "flightctl.cli.data",
    "replay": "flightctl.cli.replay",
    "context": "flightctl.cli.contexts",
    "sla": "flightctl.cli.sla",
    "backup": "flightctl.cli.backup",
    "restore": "flightctl.cli.backup",
}
# Typer's own completion options: the app keeps them (they make Typer register its shell
# completion classes) but hidden; `flightctl completion SHELL` is the documented way.
TYPER_COMPLETION_OPTIONS = ("install_completion", "show_completion")


class LazyCommands(MutableMapping[str, Any]):
    """The root group's commands by name: a command is built (``typer.main.get_group`` of its
    module's ``cli``) the first time it is looked up; the names alone import nothing."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self.modules = dict(modules)
        self.loaded: dict[str, Any] = {}
        self._groups: dict[str, Any] = {}

    def _load(self, name: str) -> Any:
        module = self.modules[name]
        if module not in self._groups:
            self._groups[module] = typer.main.get_group(importlib.import_module(module).cli)
        command = self._groups[module].commands.get(name)
        if command is None:
            raise LookupError(f"{module} defines no command {name!r}")
        return command

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            self.loaded[name] = self._load(name)  # KeyError for a name no module defines
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command
        self.modules.setdefault(name, "")

    def __delitem__(self, name: str) -> None:
        del self.modules[name]
        self.loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.modules)

    def __len__(self) -> int:
        return len(self.modules)


# Click's UsageError as Typer ships it: Typer (0.29) vendors Click and exports only its
# subclass BadParameter, so the class is found through that public one.
USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def usage_error(exc: Exception) -> NoReturn:
    """Report a usage error in one line (Click's own report is three: usage, hint, error) and
    exit 2; a group called with nothing still shows its help."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        raise exc
    context = getattr(exc, "ctx", None)
    where = context.command_path if context is not None else PROG_NAME
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    typer.echo(f"error: {message} (`{where} -h` shows the usage)", err=True)
    raise typer.Exit(getattr(exc, "exit_code", 2)) from None


class FlightctlGroup(TyperGroup):
    """The root group: commands from :data:`COMMANDS`, loaded when needed; errors mapped to exit
    codes in one place (docs/cli.md): a FlightctlError is one line on stderr and its exit code,
    Ctrl-C is 130, anything unexpected one line and 1 (a traceback only with
    FLIGHTCTL_DEBUG=1). A usage error (a bad option or argument, an unknown command) is one
    line on stderr and exit 2, like every other error; a group given nothing shows its help."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(COMMANDS)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, TyperOption) and param.name in TYPER_COMPLETION_OPTIONS:
                param.hidden = True
        return params

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except USAGE_ERROR as exc:
            usage_error(exc)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except USAGE_ERROR as exc:
            usage_error(exc)
        except FlightctlError as exc:
            finish_progress(ok=False)
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            finish_progress(ok=False)
            typer.echo("\ninterrupted", err=True)
            raise typer.Exit(INTERRUPTED) from None
        finally:
            if isinstance(ctx.obj, Context):
                ctx.obj.close()

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        # In standalone mode (the default) Click's main reports a usage error itself and exits:
        # what still comes out of it here is unexpected.
        try:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        except Exception as exc:
            if not standalone_mode or os.environ.get(FLIGHTCTL_DEBUG):
                raise
            typer.echo(
                f"error: unexpected {type(exc).__name__}: {exc} ({FLIGHTCTL_DEBUG}=1 shows the traceback)", err=True
            )
            sys.exit(1)


app = typer.Typer(
    name=PROG_NAME,
    cls=FlightctlGroup,
    help="Operate the flightctl flight-monitoring platform, locally or on Kubernetes.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            envvar=FLIGHTCTL_CONTEXT,
            help="local, kind or cluster (default: `flightctl context use`, else local)",
        ),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table, json or yaml")] = "table",
    token: Annotated[str | None, typer.Option("--token", envvar=FLIGHTCTL_TOKEN, help="API token override")] = None,
    home: Annotated[
        str | None, typer.Option("--home", envvar=FLIGHTCTL_HOME, help="state directory (default ./.flightctl)")
    ] = None,
) -> None:
    from flightctl.cli.context import resolve_context
    from flightctl.platform.layout import Home

    if context is not None and context not in ("local", "kind", "cluster"):
        raise typer.BadParameter("must be local, kind or cluster", param_hint="--context")
    if output not in ("table", "json", "yaml"):
        raise typer.BadParameter("must be table, json or yaml", param_hint="--output")
    given = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()
    state_home = Home.from_env(home)
    name, source = resolve_context(state_home, context)
    ctx.obj = Context(
        home=state_home,
        context=name,
        output=output,
        token_override=token,
        context_source=source,
        connect=given.connect,
        runner=given.runner,
    )


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
    """The console entry point: exits with the command's code (0, 1, 2, 4, 5 or 130)."""
    app(args=hoist_global_options(sys.argv[1:]), prog_name=PROG_NAME)
