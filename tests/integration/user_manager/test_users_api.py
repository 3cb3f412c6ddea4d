"""user-manager on the real platform (real PostgreSQL): the seed's idempotency scenarios,
a changed body, and concurrent bursts."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from flightctl.platform.proc import wait_until
from tests.conftest import Platform


def new_user() -> dict[str, str]:
    return {"email": f"u-{uuid.uuid4().hex[:10]}@example.com", "first_name": "Mario", "last_name": "Rossi"}


def test_seed_idempotency_scenarios(platform: Platform) -> None:
    body, key = new_user(), str(uuid.uuid4())
    with platform.client("user-manager") as client:
        first = client.post("/users", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201 and first.json() == {"message": "User created successfully"}
        replay = client.post("/users", json=body, headers={"Idempotency-Key": key})
        assert replay.status_code == 201 and replay.json() == first.json()
        assert replay.headers.get("Idempotent-Replayed") == "true"
        exists = client.post("/users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert exists.status_code == 409 and "already exists" in exists.json()["error"]
        no_key = client.post("/users", json=new_user())
        assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["error"]
        changed = client.post("/users", json={**body, "first_name": "Luigi"}, headers={"Idempotency-Key": key})
        assert changed.status_code == 422
        users = client.get("/users").json()
        assert [u["email"] for u in users].count(body["email"]) == 1


def test_fifty_concurrent_posts_with_one_key_create_one_user(platform: Platform) -> None:
    body, key = new_user(), str(uuid.uuid4())

    def post(_: int) -> httpx.Response:
        with platform.client("user-manager") as client:
            return client.post("/users", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(post, range(50)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    with platform.client("user-manager") as client:
        assert client.get(f"/users/{body['email']}").status_code == 200


def test_fifty_concurrent_creations_of_one_email_give_exactly_one_201(platform: Platform) -> None:
    body = new_user()

    def post(_: int) -> int:
        with platform.client("user-manager") as client:
            return client.post("/users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(post, range(50)))
    assert statuses.count(201) == 1, statuses
    assert set(statuses) == {201, 409}


def test_validation_errors_name_the_field(platform: Platform) -> None:
    with platform.client("user-manager") as client:
        for field, value in (("email", "not-an-email"), ("first_name", ""), ("tax_code", "XXX"), ("iban", "IT00X")):
            answer = client.post(
                "/users", json={**new_user(), field: value}, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            assert answer.status_code == 400 and field in answer.json()["error"], answer.text
        not_json = client.post("/users", content=b"{oops", headers={"Idempotency-Key": "k-" + uuid.uuid4().hex})
        assert not_json.status_code == 400
        assert client.get("/users/nobody@example.com").status_code == 404


def test_deleting_a_user_removes_their_interests(platform: Platform) -> None:
    body = new_user()
    with platform.client("user-manager") as users, platform.client("data-collector") as collector:
        assert users.post("/users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
        assert collector.post("/interests", json={"email": body["email"], "airport_code": "LICC"}).status_code == 201
        deleted = users.delete(f"/users/{body['email']}", headers={"Idempotency-Key": str(uuid.uuid4())})
        assert deleted.status_code == 200 and deleted.json() == {"message": "User deleted successfully"}
        wait_until(lambda: not collector.get(f"/interests/{body['email']}").json()["interests"], timeout=10)
        assert collector.get(f"/interests/{body['email']}").json()["interests"] == []


def test_interest_errors(platform: Platform) -> None:
    body = new_user()
    with platform.client("user-manager") as users, platform.client("data-collector") as collector:
        users.post("/users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        email = body["email"]
        assert collector.post("/interests", json={"email": email, "airport_code": "ZZZZ"}).status_code == 400
        assert (
            collector.post("/interests", json={"email": email, "airport_code": "LIRF", "high_value": -1}).status_code
            == 400
        )
        low_above = {"email": email, "airport_code": "LIRF", "high_value": 1, "low_value": 5}
        assert collector.post("/interests", json=low_above).status_code == 400
        assert (
            collector.post("/interests", json={"email": "ghost@example.com", "airport_code": "LIRF"}).status_code == 404
        )
        assert collector.post("/interests", json={"email": email, "airport_code": "LIRF"}).status_code == 201
        assert collector.post("/interests", json={"email": email, "airport_code": "lirf"}).status_code == 409
        assert collector.put("/interests", json={"email": email, "airport_code": "LIRF"}).status_code == 400
        updated = collector.put("/interests", json={"email": email, "airport_code": "LIRF", "high_value": 9})
        assert updated.status_code == 200 and updated.json()["high_value"] == 9
        assert collector.get("/flights/LIRF", params={"type": "sideways"}).status_code == 400
        gone = {"email": email, "airport_code": "LIRF"}
        assert collector.request("DELETE", "/interests", json=gone).status_code == 200
        assert collector.request("DELETE", "/interests", json=gone).status_code == 404


def test_deleting_an_email_too_long_to_exist_is_a_clear_400(platform: Platform) -> None:
    """Before: a 500 (the outcome could not be stored: the key's path column holds 600 characters)."""
    email = "a" * 700 + "@example.com"
    with platform.client("user-manager") as users:
        deleted = users.delete(f"/users/{email}", headers={"Idempotency-Key": str(uuid.uuid4())})
        assert deleted.status_code == 400, deleted.text
        assert deleted.json() == {"error": "the email is longer than 254 characters"}
        assert users.get("/users").status_code == 200  # nothing broke behind it
