"""Operations helpers: waiting until the platform is healthy, shell completion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from flightctl.errors import FlightctlError

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's


def unhealthy(status: dict[str, Any]) -> list[str]:
    services = status.get("services") or {}
    return sorted(name for name, info in services.items() if not (isinstance(info, dict) and info.get("healthy")))


def wait_healthy(
    status: Callable[[], dict[str, Any]],
    timeout: float,
    progress: Callable[[str], None] = lambda _m: None,
    *,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``status()`` (the `flightctl status` object) until every service is healthy and return
    it; after ``timeout`` seconds raise a FlightctlError naming what is still unhealthy. A status
    call that fails (platform not there yet) counts as not healthy."""
    deadline = clock() + timeout
    reported: object = None
    while True:
        try:
            current: dict[str, Any] | None = status()
            pending = unhealthy(current) if current is not None else []
            why = ", ".join(pending)
        except FlightctlError as exc:
            current, pending, why = None, [], exc.message
        if current is not None and not pending:
            return current
        if why != reported:
            progress(f"waiting for: {why}")
            reported = why
        remaining = deadline - clock()
        if remaining <= 0:
            raise FlightctlError(f"not healthy after {timeout:g}s: {why}; see `flightctl logs SERVICE`")
        sleep(min(interval, remaining))


@cli.command()
def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(help="bash, zsh, fish or powershell")],
) -> None:
    """Print the shell completion script.

    Load it from ~/.bashrc with `eval "$(flightctl completion bash)"` (zsh alike), or save it:
    `flightctl completion fish > ~/.config/fish/completions/flightctl.fish`."""
    if shell not in SHELLS:
        raise typer.BadParameter(f"choose one of {', '.join(SHELLS)}", param_hint="SHELL")
    typer.echo(completion_script(ctx.find_root().command, "flightctl", shell))


def completion_script(command: Any, prog_name: str, shell: str) -> str:
    """The completion script of ``command`` (the root of a Click/Typer app) for ``shell``, as
    the app itself prints it when asked through its completion environment variable
    (``_FLIGHTCTL_COMPLETE=source_bash``; Click's own spelling is ``bash_source``, tried next).
    The script calls the program back the same way for the completions themselves."""
    import io
    import os
    from contextlib import redirect_stderr, redirect_stdout

    variable = f"_{prog_name}_COMPLETE".replace("-", "_").upper()
    previous = os.environ.get(variable)
    problems = []
    for instruction in (f"source_{shell}", f"{shell}_source"):
        out, err = io.StringIO(), io.StringIO()
        os.environ[variable] = instruction
        try:
            with redirect_stdout(out), redirect_stderr(err):
                command.main(args=[], prog_name=prog_name, complete_var=variable)
            code: Any = 0
        except SystemExit as exit_:
            code = exit_.code
        finally:
            if previous is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = previous
        if code in (0, None) and variable in out.getvalue():  # a script calls back through the variable
            return out.getvalue().strip("\n")
        problems.append(err.getvalue().strip() or f"exit {code}")
    raise FlightctlError(f"no completion script for {shell}: {'; '.join(problems)}")
