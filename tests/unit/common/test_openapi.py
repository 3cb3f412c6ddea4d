"""The OpenAPI documents the services ship: valid OpenAPI 3.1, plain JSON, consistent about
auth and errors, and served by the HTTP app factory at /openapi.json without a token."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from prometheus_client import CollectorRegistry

from flightctl.services.common import openapi
from flightctl.services.common.http import OPEN_PATHS, create_http_app

SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")
METHODS = ("get", "put", "post", "delete", "patch")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@pytest.mark.parametrize("service", SERVICES)
def test_each_document_is_valid_openapi_3_1_and_plain_json(service: str) -> None:
    document = openapi.document(service)
    assert document is not None
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []
    assert document["openapi"].startswith("3.1")
    assert json.loads(json.dumps(document)) == document  # no YAML-only types (dates, ...)
    assert document["info"]["title"] == f"flightctl {service}"


def test_the_validator_rejects_a_broken_document() -> None:
    document = openapi.document("user-manager")
    assert document is not None
    broken = json.loads(json.dumps(document))
    del broken["paths"]["/users"]["post"]["responses"]["201"]["description"]  # required
    broken["paths"]["/users/{email}"]["parameters"][0]["in"] = "body"  # not an OpenAPI 3 location
    messages = " ".join(error.message for error in OpenAPIV31SpecValidator(broken).iter_errors())
    assert re.search(r"""["']description["'] is a required property""", messages)
    assert re.search(r"""["']body["']""", messages)


@pytest.mark.parametrize("service", SERVICES)
def test_open_routes_need_no_token_and_every_other_route_documents_401(service: str) -> None:
    document = openapi.document(service)
    assert document is not None
    for method, path, operation in operations(document):
        if path in OPEN_PATHS:
            assert operation.get("security") == [], f"{method} {path} must say it needs no token"
        else:
            assert "security" not in operation, f"{method} {path} must inherit the bearer token"
            assert "401" in operation["responses"], f"{method} {path} does not document 401"
    assert document["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_response_has_the_error_shape(service: str) -> None:
    document = openapi.document(service)
    assert document is not None
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            schema = resolve(document, response)["content"]["application/json"]["schema"]
            expected = "Health" if path == "/health" else "Error"
            assert schema == {"$ref": f"#/components/schemas/{expected}"}, f"{method} {path} {status}"
            assert "error" in resolve(document, schema)["required"] or expected == "Health"


def test_mutating_user_routes_require_an_idempotency_key() -> None:
    document = openapi.document("user-manager")
    assert document is not None
    key = {"$ref": "#/components/parameters/IdempotencyKey"}
    assert key in document["paths"]["/users"]["post"]["parameters"]
    assert key in document["paths"]["/users/{email}"]["delete"]["parameters"]
    assert resolve(document, key)["required"] is True


def test_served_without_a_token_as_json() -> None:
    app = create_http_app("data-collector", api_token="secret", registry=CollectorRegistry(), health=dict)
    client = app.test_client()
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.mimetype == "application/json"
    assert served.get_json() == openapi.document("data-collector")
    assert client.get("/users").status_code == 401  # other routes still need the token


def test_a_service_without_a_document_answers_a_json_404() -> None:
    app = create_http_app("no-such-service", api_token=None, registry=CollectorRegistry(), health=dict)
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 404
    assert answer.get_json() == {"error": "no-such-service ships no OpenAPI document"}


def test_the_factory_serves_no_static_files() -> None:
    app = create_http_app("alert-system", api_token=None, registry=CollectorRegistry(), health=dict)
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert rules == {"/ping", "/health", "/metrics", "/openapi.json"}


def test_merge_joins_paths_and_components_and_refuses_duplicates() -> None:
    common = {
        "openapi": "3.1.0",
        "paths": {"/ping": {}},
        "components": {"schemas": {"Error": {}}},
        "tags": [{"name": "a"}],
    }
    merged = openapi.merge(
        common,
        {"info": {"title": "t"}, "paths": {"/x": {}}, "components": {"schemas": {"X": {}}}, "tags": [{"name": "b"}]},
    )
    assert set(merged["paths"]) == {"/ping", "/x"}
    assert set(merged["components"]["schemas"]) == {"Error", "X"}
    assert merged["tags"] == [{"name": "a"}, {"name": "b"}]
    assert common["paths"] == {"/ping": {}}  # the common part is not changed
    with pytest.raises(ValueError, match="paths described twice: /ping"):
        openapi.merge(common, {"paths": {"/ping": {}}})
    with pytest.raises(ValueError, match=r"components\.schemas defined twice: Error"):
        openapi.merge(common, {"components": {"schemas": {"Error": {}}}})
