"""Domain errors. Service logic raises these; each transport maps them in one place
(HTTP in flightctl.services.common.http, gRPC in flightctl.services.common.grpcutil)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service reports to its caller."""

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    http_status = 400


class Unauthorized(DomainError):
    http_status = 401


class NotFound(DomainError):
    http_status = 404


class Conflict(DomainError):
    http_status = 409


class Unprocessable(DomainError):
    http_status = 422


class Unavailable(DomainError):
    """A dependency (database, broker, another service) did not answer."""

    http_status = 503


class ConfigError(Exception):
    """A setting is missing or malformed; the process stops at start with one line."""
