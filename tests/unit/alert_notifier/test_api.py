"""GET /notifications over an in-memory SQLite copy of the deliveries table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from flightctl.services.alert_notifier import api
from flightctl.services.alert_notifier.models import Delivery
from flightctl.services.common.db import make_session_factory, transaction
from flightctl.services.common.http import create_http_app
from tests.unit.alert_notifier.fakes import T0


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Delivery.__table__.create(engine)  # type: ignore[attr-defined]
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        for n, (email, status) in enumerate(
            [("ada@x.io", "sent"), ("bob@x.io", "skipped"), ("ada@x.io", "failed"), ("ada@x.io", "pending")]
        ):
            session.add(
                Delivery(
                    event_id=f"e-{n}",
                    kind="alert",
                    user_email=email,
                    chat_id="42" if status != "skipped" else None,
                    text=f"text {n}",
                    status=status,
                    attempts=1,
                    last_error=None,
                    created_at=T0 + timedelta(minutes=n),
                    sent_at=T0 + timedelta(minutes=n, seconds=1) if status == "sent" else None,
                )
            )
    app = create_http_app("alert-notifier", api_token="tkn", registry=CollectorRegistry(), health=dict)
    app.register_blueprint(api.blueprint(factory))
    yield app.test_client()
    engine.dispose()


AUTH = {"Authorization": "Bearer tkn"}


def test_the_log_is_newest_first_with_iso_dates(client: FlaskClient) -> None:
    response = client.get("/notifications", headers=AUTH)
    assert response.status_code == 200
    rows = response.get_json()
    assert [r["event_id"] for r in rows] == ["e-3", "e-2", "e-1", "e-0"]
    oldest = rows[-1]
    assert oldest == {
        "event_id": "e-0",
        "kind": "alert",
        "user_email": "ada@x.io",
        "chat_id": "42",
        "text": "text 0",
        "status": "sent",
        "attempts": 1,
        "last_error": None,
        "created_at": "2026-01-01T12:00:00+00:00",
        "sent_at": "2026-01-01T12:00:01+00:00",
    }


def test_by_email_and_limit(client: FlaskClient) -> None:
    rows = client.get("/notifications?email=ada@x.io&limit=2", headers=AUTH).get_json()
    assert [r["event_id"] for r in rows] == ["e-3", "e-2"]
    assert client.get("/notifications?email=nobody@x.io", headers=AUTH).get_json() == []


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "1.5", "²"])
def test_a_bad_limit_is_400(client: FlaskClient, limit: str) -> None:
    response = client.get(f"/notifications?limit={limit}", headers=AUTH)
    assert response.status_code == 400
    assert "limit" in response.get_json()["error"]


def test_the_token_is_required(client: FlaskClient) -> None:
    assert client.get("/notifications").status_code == 401
