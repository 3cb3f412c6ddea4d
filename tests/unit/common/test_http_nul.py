"""The HTTP app factory refuses, with a 400 naming the problem instead of a 500 or a routing
404: control characters in the path, NUL characters (which PostgreSQL cannot store) in the
query or the body, and JSON nested past Python's recursion limit."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from flightctl.services.common.http import create_http_app, json_body


@pytest.fixture
def client() -> FlaskClient:
    app = create_http_app("test", api_token="secret", registry=CollectorRegistry(), health=dict)

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        return json_body()

    @app.get("/echo/<path:name>")
    def echo_path(name: str) -> dict[str, Any]:
        return {"name": name}

    return app.test_client()


AUTH = {"Authorization": "Bearer secret"}


@pytest.mark.parametrize("url", ["/echo/a%00b", "/echo/a%0Ab", "/echo/a%7Fb", "/no/such%0Droute"])
def test_a_control_character_in_the_path_is_a_400(client: FlaskClient, url: str) -> None:
    answer = client.get(url, headers=AUTH)
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "the path must not contain control characters"}


@pytest.mark.parametrize("url", ["/echo/ok?email=a%00b", "/echo/ok?a%00=1"])
def test_a_nul_in_the_query_is_a_400(client: FlaskClient, url: str) -> None:
    answer = client.get(url, headers=AUTH)
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "the query must not contain NUL characters"}


def test_the_token_is_checked_first(client: FlaskClient) -> None:
    assert client.get("/echo/a%00b").status_code == 401


@pytest.mark.parametrize("body", [{"a": "x\x00"}, {"a\x00": 1}, {"a": [1, {"b": ["\x00"]}]}])
def test_a_nul_anywhere_in_the_body_is_a_400(client: FlaskClient, body: dict[str, Any]) -> None:
    answer = client.post("/echo", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "the request body must not contain NUL characters"}


def test_a_body_nested_too_deeply_is_a_400(client: FlaskClient) -> None:
    answer = client.post("/echo", data='{"a":' * 50_000 + "1" + "}" * 50_000, headers=AUTH)
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "the request body is nested too deeply"}


def test_ordinary_requests_pass(client: FlaskClient) -> None:
    body = {"a": ["b", {"c": 1, "d": None}], "e": "é"}
    assert client.post("/echo", json=body, headers=AUTH).get_json() == body
    assert client.get("/echo/ada@example.com?x=1", headers=AUTH).get_json() == {"name": "ada@example.com"}
    assert client.get("/echo/ok?tab=%09", headers=AUTH).status_code == 200  # only NUL is refused in a query
