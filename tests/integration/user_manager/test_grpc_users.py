"""user-manager's gRPC CheckUserExists on the real platform (it reads with one prepared
statement outside a transaction), and the interest check data-collector makes with it."""

from __future__ import annotations

import uuid

import grpc
import pytest

from flightctl.platform.layout import Home
from flightctl.services.common.pb import user_pb2, user_pb2_grpc
from tests.conftest import Platform


@pytest.fixture
def users(platform: Platform) -> user_pb2_grpc.UserServiceStub:
    state = Home(platform.home).load_state()
    assert state is not None
    channel = grpc.insecure_channel(f"127.0.0.1:{state.ports.grpc('user-manager')}")
    return user_pb2_grpc.UserServiceStub(channel)


def exists(users: user_pb2_grpc.UserServiceStub, email: str) -> bool:
    return bool(users.CheckUserExists(user_pb2.UserRequest(email=email), timeout=5).exists)


def test_check_user_exists_follows_the_user_s_life(platform: Platform, users: user_pb2_grpc.UserServiceStub) -> None:
    assert not exists(users, f"grpc-{uuid.uuid4().hex[:10]}@example.com")
    email = platform.create_user("grpc")
    with platform.client("user-manager") as client:
        # Many answers in a row, more than the read pool has connections: each one is right.
        assert all(exists(users, email) for _ in range(40))
        deleted = client.delete(f"/users/{email}", headers={"Idempotency-Key": str(uuid.uuid4())})
        assert deleted.status_code == 200, deleted.text
    assert not exists(users, email)


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "x" * 400 + "@example.com"])
def test_an_invalid_email_does_not_exist(users: user_pb2_grpc.UserServiceStub, email: str) -> None:
    assert not exists(users, email)


def test_an_interest_needs_an_existing_user(platform: Platform) -> None:
    email = platform.create_user("grpc")
    body = {"email": email, "airport_code": "LICC", "high_value": 5, "low_value": 1}
    with platform.client("data-collector") as collector:
        assert collector.post("/interests", json=body).status_code == 201
        assert collector.post("/interests", json=body).status_code == 409
        unknown = collector.post("/interests", json={**body, "email": f"nobody-{uuid.uuid4().hex[:8]}@example.com"})
        assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]
