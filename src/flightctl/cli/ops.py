"""Operations helpers: waiting until the platform is healthy, shell completion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from flightctl.errors import FlightctlError

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


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


def register(app: typer.Typer) -> None:
    @app.command()
    def completion(
        shell: Annotated[str, typer.Argument(help="bash, zsh, fish or powershell")],
    ) -> None:
        """Print the shell completion script.

        Load it from ~/.bashrc with `eval "$(flightctl completion bash)"` (zsh alike), or save it:
        `flightctl completion fish > ~/.config/fish/completions/flightctl.fish`."""
        from typer._completion_shared import get_completion_script

        if shell not in SHELLS:
            raise typer.BadParameter(f"choose one of {', '.join(SHELLS)}", param_hint="SHELL")
        typer.echo(get_completion_script(prog_name="flightctl", complete_var="_FLIGHTCTL_COMPLETE", shell=shell))
