"""A request that finds the database down (refused, dropped, no pooled connection in time) is
answered 503 with a JSON error and Retry-After, not 500: nothing was applied, a retry is right.
(The fault suite met 500s from POST /users while PostgreSQL restarted.)"""

from __future__ import annotations

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import exc as sql

from flightctl.services.common.http import create_http_app

DOWN = [
    sql.OperationalError("INSERT ...", {}, psycopg.OperationalError("connection refused")),
    sql.InterfaceError("SELECT 1", {}, psycopg.InterfaceError("the connection is closed")),
    sql.TimeoutError("QueuePool limit reached, connection timed out"),
    psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
]


@pytest.mark.parametrize("failure", DOWN, ids=lambda e: type(e).__name__)
def test_a_database_outage_is_503_json_with_retry_after(failure: Exception) -> None:
    app = create_http_app("user-manager", api_token="secret", registry=CollectorRegistry(), health=dict)

    def fail() -> str:
        raise failure

    app.add_url_rule("/boom", view_func=fail, methods=["POST"])
    answer = app.test_client().post("/boom", headers={"Authorization": "Bearer secret"})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.get_json() == {"error": "the database is unavailable; try again shortly"}


def test_any_other_error_is_still_a_500() -> None:
    app = create_http_app("user-manager", api_token="secret", registry=CollectorRegistry(), health=dict)

    def fail() -> str:
        raise sql.IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    app.add_url_rule("/boom", view_func=fail, methods=["POST"])
    answer = app.test_client().post("/boom", headers={"Authorization": "Bearer secret"})
    assert answer.status_code == 500
