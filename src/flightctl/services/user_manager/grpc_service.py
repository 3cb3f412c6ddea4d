"""gRPC UserService: translates messages and calls service functions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import grpc
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.clock import utcnow
from flightctl.services.common.db import Reads, transaction
from flightctl.services.common.grpcutil import map_errors
from flightctl.services.common.pb import user_pb2, user_pb2_grpc
from flightctl.services.user_manager import linking, service, tokens
from flightctl.services.user_manager.models import User


def user_message(user: User) -> user_pb2.User:
    return user_pb2.User(
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        telegram_chat_id=user.telegram_chat_id or "",
    )


class UserServicer(user_pb2_grpc.UserServiceServicer):
    """``reads``, when given, answers CheckUserExists with one prepared statement outside a
    transaction (user-manager passes its read pool); else a session does."""

    def __init__(
        self, factory: sessionmaker[Session], now: Callable[[], datetime] = utcnow, reads: Reads | None = None
    ) -> None:
        self._factory = factory
        self._now = now
        self._reads = reads

    @map_errors
    def CheckUserExists(self, request: user_pb2.UserRequest, context: grpc.ServicerContext) -> user_pb2.UserResponse:
        if self._reads is not None:
            return user_pb2.UserResponse(exists=service.user_known(self._reads, request.email))
        with transaction(self._factory) as session:
            return user_pb2.UserResponse(exists=service.user_exists(session, request.email))

    @map_errors
    def GetUser(self, request: user_pb2.UserRequest, context: grpc.ServicerContext) -> user_pb2.User:
        with transaction(self._factory) as session:
            return user_message(service.get_user(session, request.email))

    @map_errors
    def LinkTelegram(self, request: user_pb2.LinkTelegramRequest, context: grpc.ServicerContext) -> user_pb2.User:
        with transaction(self._factory) as session:
            user = linking.redeem_link_code(session, request.code, request.telegram_chat_id, now=self._now())
            return user_message(user)

    @map_errors
    def AuthenticateToken(
        self, request: user_pb2.TokenRequest, context: grpc.ServicerContext
    ) -> user_pb2.TokenResponse:
        with transaction(self._factory) as session:
            principal = tokens.authenticate(session, request.token_sha256, self._now())
        if principal is None:
            return user_pb2.TokenResponse(found=False)
        return user_pb2.TokenResponse(found=True, scope=principal.scope, token_id=principal.token_id)
