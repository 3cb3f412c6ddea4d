"""The flightctl root: global options, the context object, command groups, error handling.

Heavy imports (httpx, rich, yaml, the local platform, the service packages) are deferred into
the commands so that `flightctl --help` stays fast: bench/cli_help.py measures it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

# Typer renders help and errors with rich when it is installed; importing rich costs more than
# the rest of the CLI together. Plain help is the default; TYPER_USE_RICH=1 brings rich back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer
from typer.core import TyperGroup

from flightctl.cli import contexts, data, doctor, loadtest, ops, platform, replay, serve, sla, smoke
from flightctl.cli.context import FLIGHTCTL_CONTEXT, FLIGHTCTL_HOME, FLIGHTCTL_TOKEN, Context
from flightctl.errors import FlightctlError

FLIGHTCTL_DEBUG = "FLIGHTCTL_DEBUG"


class FlightctlGroup(TyperGroup):
    """Maps errors to exit codes in one place (SPEC 8): a FlightctlError is one line on stderr
    and its exit code, Ctrl-C is 130, anything unexpected one line and 1 (a traceback only with
    FLIGHTCTL_DEBUG=1). Usage errors keep click's handling (exit 2)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except FlightctlError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("\ninterrupted", err=True)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            from typer._click.exceptions import ClickException

            if isinstance(exc, ClickException) or os.environ.get(FLIGHTCTL_DEBUG):
                raise
            typer.echo(
                f"error: unexpected {type(exc).__name__}: {exc} ({FLIGHTCTL_DEBUG}=1 shows the traceback)", err=True
            )
            raise typer.Exit(1) from None
        finally:
            if isinstance(ctx.obj, Context):
                ctx.obj.close()

    def _main_shell_completion(
        self, ctx_args: MutableMapping[str, Any], prog_name: str, complete_var: str | None = None
    ) -> None:
        # The built-in --install-completion is off (it detects the shell on every start); when a
        # completion script (`flightctl completion SHELL`) asks, load Typer's completion classes.
        var = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if os.environ.get(var):
            from typer._completion_classes import completion_init

            completion_init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)


def _defer_pydantic() -> None:
    """Typer 0.29 converts every parameter value with a pydantic TypeAdapter, built on first use;
    importing pydantic costs more than the rest of the CLI, and even `flightctl users --help`
    converts the root's options and each --help flag. Text and flags that already have the right
    type need no conversion: they pass through, and pydantic is only loaded for a value that does
    (a number, a path, an env var for a flag). Without that Typer internal nothing changes."""
    try:
        import typer.core as typer_core
        from typer._coercion import RuntimeParam
    except ImportError:
        return
    build: Any = getattr(typer_core, "build_runtime_param", None)
    if build is None or getattr(build, "deferred", False):
        return

    @dataclass(frozen=True)
    class Deferred(RuntimeParam):  # type: ignore[misc]
        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, self.annotation):
                return value
            return build(self.descriptor)._coerce_value(value, param, ctx)

    def deferred(descriptor: Any) -> Any:
        if descriptor.annotation in (str, bool) and descriptor.file_annotation is None:
            info, annotation = descriptor.parameter_info, descriptor.annotation
            return Deferred(parameter_info=info, annotation=annotation, descriptor=descriptor)
        return build(descriptor)

    deferred.deferred = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = deferred


_defer_pydantic()


app = typer.Typer(
    name="flightctl",
    cls=FlightctlGroup,
    help="Operate the flightctl flight-monitoring platform, locally or on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
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
            "--context", envvar=FLIGHTCTL_CONTEXT, help="local or kind (default: `flightctl context use`, else local)"
        ),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table, json or yaml")] = "table",
    token: Annotated[str | None, typer.Option("--token", envvar=FLIGHTCTL_TOKEN, help="API token override")] = None,
    home: Annotated[
        str | None, typer.Option("--home", envvar=FLIGHTCTL_HOME, help="state directory (default ./.flightctl)")
    ] = None,
) -> None:
    from flightctl.cli.context import resolve_context
    from flightctl.local.layout import Home

    if context is not None and context not in ("local", "kind"):
        raise typer.BadParameter("must be local or kind", param_hint="--context")
    if output not in ("table", "json", "yaml"):
        raise typer.BadParameter("must be table, json or yaml", param_hint="--output")
    state_home = Home.from_env(home)
    name, source = resolve_context(state_home, context)
    ctx.obj = Context(home=state_home, context=name, output=output, token_override=token, context_source=source)


platform.register(app)
data.register(app)
replay.register(app)
contexts.register(app)
ops.register(app)
doctor.register(app)
smoke.register(app)
sla.register(app)
loadtest.register(app)
serve.register(app)


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
    app(args=hoist_global_options(sys.argv[1:]), prog_name="flightctl")
