"""Scoped API tokens looked up at user-manager over gRPC (``UserService.AuthenticateToken``),
behind the cache of flightctl.services.common.auth: what every HTTP service but user-manager
hands its app factory."""

from __future__ import annotations

import grpc

from flightctl.services.common import auth
from flightctl.services.common.pb import user_pb2, user_pb2_grpc

DEADLINE_SECONDS = 2.0


def grpc_lookup(channel: grpc.Channel, deadline: float = DEADLINE_SECONDS) -> auth.Lookup:
    stub = user_pb2_grpc.UserServiceStub(channel)

    def lookup(token_digest: str) -> auth.Principal | None:
        try:
            answer = stub.AuthenticateToken(user_pb2.TokenRequest(token_sha256=token_digest), timeout=deadline)
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            raise auth.StoreUnavailable(f"user-manager did not answer AuthenticateToken ({code.name})") from None
        if not answer.found or answer.scope not in auth.SCOPES:
            return None
        return auth.Principal(int(answer.token_id), answer.scope)

    return lookup


def cached_grpc_lookup(channel: grpc.Channel) -> auth.CachedLookup:
    return auth.CachedLookup(grpc_lookup(channel))


__all__ = ["cached_grpc_lookup", "grpc_lookup"]
