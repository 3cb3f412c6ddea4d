"""The CLI's one exception base; the exit code travels with the error (docs/cli.md, Exit codes)."""

from __future__ import annotations

OK, ERROR, USAGE, AUTH, PREREQUISITE, INTERRUPTED = 0, 1, 2, 4, 5, 130
EXIT_CODES = {
    OK: "success",
    ERROR: "an error: the platform or a service failed, or answered with an error",
    USAGE: "a usage or validation error (a bad option or argument, or HTTP 400, 413, 422)",
    AUTH: "authentication failed (HTTP 401 or 403: see `flightctl auth token`)",
    PREREQUISITE: "a prerequisite is missing; the message names the command that installs it",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
"""Every exit code of flightctl and what it means (docs/cli.md is generated from this)."""


class FlightctlError(Exception):
    exit_code = ERROR

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(FlightctlError):
    exit_code = USAGE


class AuthError(FlightctlError):
    exit_code = AUTH


class PrerequisiteMissing(FlightctlError):
    exit_code = PREREQUISITE
