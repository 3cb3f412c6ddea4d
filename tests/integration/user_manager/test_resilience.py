"""user-manager when things go wrong, on the real platform: deleting a user while data-collector
is down, idempotency keys expiring, 5xx outcomes and unexpected errors not being stored, and
no personal data in any service's log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from flightctl.platform.proc import wait_until
from flightctl.services.common import db
from flightctl.services.common.errors import Unavailable
from flightctl.services.user_manager import idempotency
from flightctl.services.user_manager.models import IdempotencyKey
from tests.conftest import Platform
from tests.prometheus import sample


def new_user(**extra: str) -> dict[str, str]:
    return {"email": f"r-{uuid.uuid4().hex[:10]}@example.com", "first_name": "Anna", "last_name": "Bianchi", **extra}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_deletion_while_data_collector_is_down_completes_when_it_is_back(platform: Platform) -> None:
    body = new_user()
    email = body["email"]
    with platform.client("user-manager") as users, platform.client("data-collector") as collector:
        assert users.post("/users", json=body, headers=key()).status_code == 201
        for airport in ("LIRF", "LIML"):
            assert collector.post("/interests", json={"email": email, "airport_code": airport}).status_code == 201

        platform.stop("data-collector")
        try:
            deleted = users.delete(f"/users/{email}", headers=key())
            assert deleted.status_code == 200, deleted.text
            assert users.get(f"/users/{email}").status_code == 404
            # The interest removal is parked in the outbox and retried, visible as a backlog.
            assert wait_until(lambda: counter(users.get("/metrics").text, "interest_deletion_outbox_backlog") >= 1, 10)
        finally:
            platform.restore()

        # OUTBOX_RETRY_SECONDS is 1 in the test platform: the next attempts reach data-collector.
        assert wait_until(lambda: collector.get(f"/interests/{email}").json()["interests"] == [], 15)
        assert wait_until(lambda: counter(users.get("/metrics").text, "interest_deletion_outbox_backlog") == 0, 10)


@pytest.fixture()
def factory(platform: Platform) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(platform.database_url("user-manager"), pool_size=2)
    try:
        yield db.make_session_factory(engine)
    finally:
        engine.dispose()


def run(factory: sessionmaker[Session], k: str, at: datetime, action: Any) -> idempotency.Outcome:
    return idempotency.execute(
        factory,
        key=k,
        method="POST",
        path="/users",
        body={"n": 1},
        ttl=timedelta(seconds=60),
        now=lambda: at,
        action=action,
    )


def stored(factory: sessionmaker[Session], k: str) -> IdempotencyKey | None:
    with factory() as session:
        return session.get(IdempotencyKey, k)


def test_keys_expire_after_the_ttl_and_are_purged(factory: sessionmaker[Session]) -> None:
    calls: list[int] = []

    def action(_session: Session) -> tuple[int, dict[str, Any]]:
        calls.append(1)
        return 201, {"run": len(calls)}

    k, t0 = f"expiry-{uuid.uuid4()}", datetime.now(UTC)
    assert run(factory, k, t0, action) == idempotency.Outcome(201, {"run": 1})
    assert run(factory, k, t0 + timedelta(seconds=59), action) == idempotency.Outcome(201, {"run": 1}, replayed=True)
    # Expired: the same key runs again and is stored afresh with a new expiry.
    assert run(factory, k, t0 + timedelta(seconds=61), action) == idempotency.Outcome(201, {"run": 2})
    row = stored(factory, k)
    assert row is not None and row.expires_at == t0 + timedelta(seconds=121)

    assert idempotency.purge_expired(factory, t0 + timedelta(seconds=120)) >= 0
    assert stored(factory, k) is not None  # not yet expired
    assert idempotency.purge_expired(factory, t0 + timedelta(seconds=121)) >= 1
    assert stored(factory, k) is None
    assert len(calls) == 2


def test_a_5xx_outcome_or_an_unexpected_error_is_not_stored(factory: sessionmaker[Session]) -> None:
    k, now = f"failure-{uuid.uuid4()}", datetime.now(UTC)

    def unavailable(_session: Session) -> tuple[int, dict[str, Any]]:
        raise Unavailable("data-collector is unreachable")

    def crash(_session: Session) -> tuple[int, dict[str, Any]]:
        raise RuntimeError("boom")

    with pytest.raises(Unavailable):
        run(factory, k, now, unavailable)
    assert stored(factory, k) is None
    with pytest.raises(RuntimeError):
        run(factory, k, now, crash)
    assert stored(factory, k) is None  # not stuck "in progress": nothing was kept

    # The retry with the same key runs, and its (successful) outcome is the one stored.
    assert run(factory, k, now, lambda _s: (201, {"ok": True})) == idempotency.Outcome(201, {"ok": True})
    row = stored(factory, k)
    assert row is not None and row.response_code == 201


def test_a_4xx_outcome_is_stored_and_replayed(factory: sessionmaker[Session]) -> None:
    from flightctl.services.common.errors import Conflict

    def exists(_session: Session) -> tuple[int, dict[str, Any]]:
        raise Conflict("a user with this email already exists")

    k, now = f"conflict-{uuid.uuid4()}", datetime.now(UTC)
    first = run(factory, k, now, exists)
    assert first == idempotency.Outcome(409, {"error": "a user with this email already exists"})
    assert run(factory, k, now, lambda _s: (201, {})) == idempotency.Outcome(409, first.body, replayed=True)


def test_no_personal_data_in_any_service_log(platform: Platform) -> None:
    tax_code, iban, chat_id = (
        "RSSMRA85T10A562S",
        "IT60X0542811101000000123456",
        str(7_000_000_000 + uuid.uuid4().int % 10**9),
    )
    body = new_user(tax_code=tax_code, iban=iban)
    email = body["email"]
    with platform.client("user-manager") as users, platform.client("data-collector") as collector:
        assert users.post("/users", json=body, headers=key()).status_code == 201
        assert users.post("/users/telegram", json={"email": email, "telegram_chat_id": chat_id}).status_code == 200
        assert users.get(f"/users/{email}").json()["iban"] == iban
        assert collector.post("/interests", json={"email": email, "airport_code": "LIRF"}).status_code == 201
        assert collector.get(f"/interests/{email}").status_code == 200
        bad = users.post("/users", json={**new_user(), "tax_code": tax_code[:-1] + "X"}, headers=key())
        assert bad.status_code == 400
        assert users.delete(f"/users/{email}", headers=key()).status_code == 200
        assert wait_until(lambda: collector.get(f"/interests/{email}").json()["interests"] == [], 15)

    with platform.gateway() as gateway:
        assert gateway.get(f"/user-manager/users/{email}").status_code == 404
        assert gateway.get(f"/data-collector/interests/{email}").status_code == 200

    personal = {"email": email, "tax code": tax_code, "iban": iban, "chat id": chat_id, "bad tax code": tax_code[:-1]}
    logs = platform.home / "logs"
    access = logs / "nginx-access.log"
    assert wait_until(lambda: access.exists() and "/data-collector/interests/<email>" in access.read_text(), 10)
    for log in (*(logs / f"{s}.log" for s in ("user-manager", "data-collector", "alert-notifier")), access):
        text = log.read_text(errors="replace")
        leaked = [what for what, value in personal.items() if value in text]
        assert not leaked, f"{log.name} contains {leaked}"


def counter(text: str, name: str, **labels: str) -> float:
    return sample(text, name, **labels) or 0.0


def test_idempotency_outcomes_are_counted(platform: Platform) -> None:
    body, headers = new_user(), key()
    with platform.client("user-manager") as users:
        before = users.get("/metrics").text
        assert users.post("/users", json=body, headers=headers).status_code == 201
        assert users.post("/users", json=body, headers=headers).status_code == 201
        assert users.post("/users", json={**body, "last_name": "Verdi"}, headers=headers).status_code == 422
        after = users.get("/metrics").text
    for outcome, delta in (("executed", 1), ("replayed", 1), ("mismatch", 1)):
        name = "idempotency_requests_total"
        assert counter(after, name, outcome=outcome) - counter(before, name, outcome=outcome) == delta, outcome
    labels = {"service": "user-manager", "method": "POST", "endpoint": "/users", "status": "422"}
    assert counter(after, "http_requests_total", **labels) - counter(before, "http_requests_total", **labels) == 1
    assert counter(after, "http_request_duration_seconds_count", **labels) >= 1


def test_idempotency_through_the_gateway(platform: Platform) -> None:
    body, headers, url = new_user(), key(), "/user-manager/users"
    with platform.gateway() as gateway:
        first = gateway.post(url, json=body, headers=headers)
        again = gateway.post(url, json=body, headers=headers)
        changed = gateway.post(url, json={**body, "first_name": "Bea"}, headers=headers)
        missing = gateway.post(url, json=new_user())
    assert (first.status_code, again.status_code, changed.status_code, missing.status_code) == (201, 201, 422, 400)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    assert all(r.headers["content-type"].startswith("application/json") for r in (first, changed, missing))
