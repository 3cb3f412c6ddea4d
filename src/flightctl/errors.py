"""The CLI's one exception base; the exit code travels with the error (SPEC section 8)."""

from __future__ import annotations

OK, ERROR, USAGE, AUTH, PREREQUISITE = 0, 1, 2, 4, 5


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
