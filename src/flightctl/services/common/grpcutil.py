"""gRPC bootstrap: a server with the standard health service, domain errors mapped to status
codes in one place, and client channels whose every call carries a deadline."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from flightctl.services.common.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
)

log = logging.getLogger(__name__)
DEFAULT_DEADLINE_SECONDS = 3.0
F = TypeVar("F", bound=Callable[..., Any])

_STATUS = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.ALREADY_EXISTS,
    Unprocessable: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def map_errors(method: F) -> F:
    """Servicer method decorator: a DomainError becomes the matching gRPC status."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except DomainError as exc:
            context.abort(_STATUS.get(type(exc), grpc.StatusCode.INTERNAL), exc.message)
        except Exception:
            log.exception("gRPC %s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return wrapper  # type: ignore[return-value]


Registration = tuple[Callable[[Any, grpc.Server], None], Any, str]
"""(add_XServicer_to_server, servicer, full service name)"""


class GrpcServer:
    def __init__(self, host: str, port: int, registrations: Iterable[Registration], workers: int = 8) -> None:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"))
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._names = []
        for add, servicer, name in registrations:
            add(servicer, self._server)
            self._names.append(name)
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"cannot bind gRPC to {host}:{port}")

    def start(self) -> None:
        self._server.start()
        for name in ["", *self._names]:
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC listening on port %s", self.port)

    def stop(self) -> None:
        self._health.enter_graceful_shutdown()
        self._server.stop(grace=3).wait(5)


def make_channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(
        target,
        options=[
            ("grpc.keepalive_time_ms", 30000),
            ("grpc.enable_retries", 1),
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ],
    )


def check_health(channel: grpc.Channel, timeout: float = 1.0) -> str | None:
    """None when the peer's standard health service says SERVING, else a short reason."""
    try:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        return f"{exc.code().name.lower()}"  # type: ignore[attr-defined]
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return "not serving"
    return None
