"""gRPC DataCollectorService."""

from __future__ import annotations

import logging

import grpc
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import transaction
from flightctl.services.common.grpcutil import map_errors
from flightctl.services.common.pb import data_collector_pb2, data_collector_pb2_grpc, user_pb2
from flightctl.services.data_collector import service

log = logging.getLogger(__name__)


class DataCollectorServicer(data_collector_pb2_grpc.DataCollectorServiceServicer):
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    @map_errors
    def DeleteUserInterests(
        self, request: user_pb2.UserRequest, context: grpc.ServicerContext
    ) -> data_collector_pb2.DeleteInterestsResponse:
        with transaction(self._factory) as session:
            count = service.delete_user_interests(session, request.email)
        log.info("deleted %d interest(s) of a deleted user", count)
        return data_collector_pb2.DeleteInterestsResponse(success=True, deleted_count=count)
