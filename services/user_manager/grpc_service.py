"""gRPC UserService: translates messages and calls service functions."""

from __future__ import annotations

import grpc
from sqlalchemy.orm import Session, sessionmaker

from services.common.db import transaction
from services.common.grpcutil import map_errors
from services.common.pb import user_pb2, user_pb2_grpc
from services.user_manager import service


class UserServicer(user_pb2_grpc.UserServiceServicer):
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    @map_errors
    def CheckUserExists(self, request: user_pb2.UserRequest, context: grpc.ServicerContext) -> user_pb2.UserResponse:
        with transaction(self._factory) as session:
            return user_pb2.UserResponse(exists=service.user_exists(session, request.email))

    @map_errors
    def GetUser(self, request: user_pb2.UserRequest, context: grpc.ServicerContext) -> user_pb2.User:
        with transaction(self._factory) as session:
            user = service.get_user(session, request.email)
            return user_pb2.User(
                email=user.email,
                first_name=user.first_name,
                last_name=user.last_name,
                telegram_chat_id=user.telegram_chat_id or "",
            )
