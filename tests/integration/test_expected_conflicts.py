"""An expected outcome is not an error: a 409 for an interest or a user that exists comes from
``INSERT ... ON CONFLICT DO NOTHING``, so PostgreSQL logs no failed statement for it (a caught
unique violation would write an ERROR with the statement into its log on every such request)."""

from __future__ import annotations

import uuid

from tests.conftest import Platform


def errors_logged_during(platform: Platform, action: object) -> list[str]:
    log = platform.home / "logs" / "postgres.log"
    offset = log.stat().st_size
    assert callable(action)
    action()
    # The server writes the line before it answers the statement: nothing to wait for.
    with log.open("rb") as handle:
        handle.seek(offset)
        added = handle.read().decode(errors="replace")
    return [line for line in added.splitlines() if "ERROR:" in line]


def test_an_existing_interest_is_a_409_without_an_error_in_the_database_log(platform: Platform) -> None:
    email = platform.create_user("conflict")
    body = {"email": email, "airport_code": "LIRF", "high_value": 5}

    def twice() -> None:
        with platform.client("data-collector") as dc:
            assert dc.post("/interests", json=body).status_code == 201
            for _ in range(3):
                again = dc.post("/interests", json=body)
                assert again.status_code == 409 and "already has" in again.json()["error"]
            # The other kind in the same airport is no conflict.
            assert dc.post("/interests", json={**body, "live": True}).status_code == 201

    assert errors_logged_during(platform, twice) == []


def test_an_existing_user_is_a_409_without_an_error_in_the_database_log(platform: Platform) -> None:
    email = f"conflict-{uuid.uuid4().hex[:10]}@example.com"
    tax_code = "RSSMRA80A01H501U"
    body = {"email": email, "first_name": "Ada", "last_name": "Lovelace"}

    def collide() -> None:
        with platform.client("user-manager") as users:
            key = {"Idempotency-Key": str(uuid.uuid4())}
            assert users.post("/users", json=body, headers=key).status_code == 201
            again = users.post("/users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            assert again.status_code == 409 and "already exists" in again.json()["error"]
            taxed = {"email": f"t-{email}", "first_name": "A", "last_name": "B", "tax_code": tax_code}
            first = users.post("/users", json=taxed, headers={"Idempotency-Key": str(uuid.uuid4())})
            assert first.status_code in (201, 409), first.text  # 409 when an earlier run took the code
            same_code = {**taxed, "email": f"u-{email}"}
            clash = users.post("/users", json=same_code, headers={"Idempotency-Key": str(uuid.uuid4())})
            assert clash.status_code == 409, clash.text

    assert errors_logged_during(platform, collide) == []
