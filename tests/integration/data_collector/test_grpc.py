"""DataCollectorService over a real gRPC socket (the address `flightctl status -o json` gives)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from flightctl.services.common.pb import data_collector_pb2_grpc, user_pb2
from tests.conftest import Platform
from tests.integration.data_collector.conftest import create_user


def test_delete_user_interests(platform: Platform, new_airport: Callable[[], str]) -> None:
    email, keep = create_user(platform), create_user(platform)
    airports = [new_airport(), new_airport()]
    with platform.client("data-collector") as dc:
        for airport in airports:
            assert dc.post("/interests", json={"email": email, "airport_code": airport}).status_code == 201
        assert dc.post("/interests", json={"email": keep, "airport_code": airports[0]}).status_code == 201

        target = platform.status["services"]["data-collector"]["grpc"]
        with grpc.insecure_channel(target) as channel:
            stub = data_collector_pb2_grpc.DataCollectorServiceStub(channel)
            first = stub.DeleteUserInterests(user_pb2.UserRequest(email=email.upper()), timeout=5)
            assert (first.success, first.deleted_count) == (True, 2)
            again = stub.DeleteUserInterests(user_pb2.UserRequest(email=email), timeout=5)
            assert (again.success, again.deleted_count) == (True, 0)
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="flightctl.datacollector.v1.DataCollectorService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING

        assert dc.get(f"/interests/{email}").json()["interests"] == []
        assert [i["airport_code"] for i in dc.get(f"/interests/{keep}").json()["interests"]] == [airports[0]]
