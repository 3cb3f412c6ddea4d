"""The OpenAPI documents against the implementation, on the session's real platform:

- every service serves its document at /openapi.json without a token, directly and through
  the gateway;
- the (method, path) pairs a document describes are exactly the routes of the service's real
  Flask app, built by the service's own ``create_app`` with the platform's settings;
- real answers, successes and errors, to a representative request for every route validate
  against the schema documented for their status and media type (a status the document does
  not list fails), and every documented operation is exercised.
"""

from __future__ import annotations

import importlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from flightctl.local import services as local_services
from flightctl.platform.layout import MODULES, SERVICES, Home
from flightctl.platform.proc import wait_until
from flightctl.services.common import openapi
from flightctl.services.common.runtime import OnStop
from tests.conftest import Platform
from tests.fakes.opensky import make_flight

METHODS = ("get", "put", "post", "delete", "patch")
GATEWAY_PREFIXES = {
    "user-manager": "user-manager",
    "data-collector": "data-collector",
    "sla-breach-detector": "sla-detector",
    "alert-notifier": "notifier",
}
DOCUMENT_URI = "urn:flightctl:openapi"


# -- the documented operations and the real routes ---------------------------------------------
def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item if method in METHODS}


def flask_routes(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every rule; HEAD and OPTIONS are Flask's automatic answers."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(method, path) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    return routes


class _NoServer:
    """Stands in for the HTTP and gRPC servers while an app is built only to read its routes."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def real_app_routes(platform: Platform, service: str, monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """The routes of the app the service's own create_app builds, with the settings the
    platform gives the service (its database, broker, gRPC targets); nothing is started."""
    module = importlib.import_module(MODULES[service] + ".app")
    monkeypatch.setattr(module, "HttpServer", _NoServer)
    if hasattr(module, "GrpcServer"):
        monkeypatch.setattr(module, "GrpcServer", _NoServer)
    home = Home(platform.home)
    state = home.load_state()
    assert state is not None
    settings = module.Settings.from_env(local_services.environment(service, home, state, {}))
    built = module.create_app(settings)
    try:
        return flask_routes(built.app)
    finally:
        for component in built.components:
            if isinstance(component, OnStop):
                component.stop()  # engines, producers, channels


@pytest.mark.parametrize("service", SERVICES)
def test_documented_operations_are_exactly_the_real_routes(
    platform: Platform, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = openapi.document(service)
    assert document is not None
    real = real_app_routes(platform, service, monkeypatch)
    assert real, "the app has no routes"
    assert sorted(documented(document) - real) == [], "documented but not served"
    assert sorted(real - documented(document)) == [], "served but not documented"


# -- served documents -------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_serves_its_document_without_a_token(platform: Platform, service: str) -> None:
    answer = httpx.get(platform.url(service) + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == openapi.document(service)


def test_the_gateway_serves_each_document_under_the_service_prefix(platform: Platform) -> None:
    with platform.gateway(token=False) as gateway:
        for service, prefix in GATEWAY_PREFIXES.items():
            answer = gateway.get(f"/{prefix}/openapi.json")
            assert answer.status_code == 200, (prefix, answer.text)
            assert answer.json()["info"]["title"] == f"flightctl {service}"


# -- real answers against the documented schemas ----------------------------------------------
def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Checker:
    """Sends requests to one service and validates every answer against its document."""

    def __init__(self, platform: Platform, service: str) -> None:
        document = openapi.document(service)
        assert document is not None
        self.document = document
        self.client = platform.client(service)
        self.anonymous = httpx.Client(base_url=platform.url(service), timeout=30)
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        self.exercised: set[tuple[str, str]] = set()

    def close(self) -> None:
        self.client.close()
        self.anonymous.close()

    def _resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self.document
            for part in pointer.lstrip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def _validate(self, pointer: str, value: Any, what: str) -> None:
        validator = Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{pointer}"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        problems = [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(value)
        ]
        assert problems == [], f"{what} does not match the document: {problems}"

    def call(
        self, method: str, template: str, expect: int, *, path: str | None = None, token: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send ``method path`` (``path`` defaults to the template), check the status, and
        validate the answer against the operation's documented response for that status."""
        client = self.client if token else self.anonymous
        answer = client.request(method, path or template, **kwargs)
        what = f"{method} {path or template} -> {answer.status_code}"
        assert answer.status_code == expect, f"{what}, expected {expect}: {answer.text[:300]}"
        operation = self.document["paths"][template][method.lower()]
        base = f"/paths/{_escape(template)}/{method.lower()}/responses"
        listed = operation["responses"].get(str(answer.status_code))
        assert listed is not None, f"{what}: the document lists no {answer.status_code} for this operation"
        response, pointer = self._resolve(listed, f"{base}/{answer.status_code}")
        media = answer.headers.get("content-type", "").split(";")[0].strip()
        assert media in response.get("content", {}), f"{what}: {media} is not a documented media type"
        body: Any = answer.json() if media == "application/json" else answer.text
        self._validate(f"{pointer}/content/{_escape(media)}/schema", body, what)
        for name, header in response.get("headers", {}).items():
            if name in answer.headers:
                _header, header_pointer = self._resolve(header, f"{pointer}/headers/{_escape(name)}")
                self._validate(f"{header_pointer}/schema", answer.headers[name], f"{what} header {name}")
        self.exercised.add((method.upper(), template))
        return answer

    def common_routes(self) -> None:
        """The factory's routes, without a token, and a JSON error for a path nobody serves."""
        self.call("GET", "/ping", 200, token=False)
        self.call("GET", "/health", 200, token=False)
        self.call("GET", "/metrics", 200, token=False)
        self.call("GET", "/openapi.json", 200, token=False)
        unknown = self.client.get("/no/such/route")
        assert unknown.status_code == 404 and unknown.json() == {"error": "no such endpoint"}

    def assert_every_operation_exercised(self) -> None:
        missing = sorted(documented(self.document) - self.exercised)
        assert missing == [], f"operations with no request in this test: {missing}"


@pytest.fixture
def checker(platform: Platform, request: pytest.FixtureRequest) -> Iterator[Checker]:
    check = Checker(platform, request.param)
    try:
        yield check
    finally:
        check.close()


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def yesterday_noon() -> int:
    """Noon of yesterday (UTC), Unix seconds: inside the platform's latest complete day."""
    now = int(time.time())
    return now - now % 86400 - 43200


@pytest.mark.parametrize("checker", ["user-manager"], indirect=True)
def test_user_manager_answers_match_the_document(checker: Checker) -> None:
    checker.common_routes()
    email = f"doc-{uuid.uuid4().hex[:10]}@example.com"
    other = f"doc-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "first_name": "Ada", "last_name": "Lovelace", "tax_code": None, "iban": ""}
    first = key()
    checker.call("POST", "/users", 201, json=body, headers=first)
    replay = checker.call("POST", "/users", 201, json=body, headers=first)
    assert replay.headers["Idempotent-Replayed"] == "true"
    checker.call("POST", "/users", 201, json={**body, "email": other}, headers=key())
    checker.call("POST", "/users", 400, json=body)  # no key
    checker.call("POST", "/users", 400, content=b"not json", headers=key())
    checker.call("POST", "/users", 400, json={**body, "email": "nope", "extra": 1}, headers=key())
    checker.call("POST", "/users", 400, json={**body, "first_name": "A\u0000"}, headers=key())
    checker.call("POST", "/users", 409, json=body, headers=key())
    checker.call("POST", "/users", 422, json={**body, "first_name": "Augusta"}, headers=first)
    checker.call("POST", "/users", 401, json=body, headers=key(), token=False)
    checker.call("POST", "/users", 413, content=b"{" + b" " * (1024 * 1024) + b"}", headers=key())
    users = checker.call("GET", "/users", 200).json()
    assert email in [u["email"] for u in users]
    checker.call("GET", "/users", 401, token=False)

    checker.call("GET", "/users/{email}", 200, path=f"/users/{email.upper()}")
    checker.call("GET", "/users/{email}", 400, path="/users/not-an-address")
    checker.call("GET", "/users/{email}", 404, path=f"/users/missing-{email}")
    checker.call("GET", "/users/{email}", 401, path=f"/users/{email}", token=False)

    chat = str(uuid.uuid4().int % 10**12)
    linked = checker.call("POST", "/users/telegram", 200, json={"email": email, "telegram_chat_id": int(chat)})
    assert linked.json()["telegram_chat_id"] == chat
    checker.call("POST", "/users/telegram", 409, json={"email": other, "telegram_chat_id": chat})
    checker.call("POST", "/users/telegram", 400, json={"email": email, "telegram_chat_id": "12a"})
    checker.call("POST", "/users/telegram", 404, json={"email": f"missing-{email}", "telegram_chat_id": "1"})
    checker.call("POST", "/users/telegram", 401, json={}, token=False)
    checker.call("POST", "/users/telegram", 413, content=b"[" + b" " * (1024 * 1024) + b"]")

    checker.call("POST", "/users/telegram/link", 201, json={"email": other})
    checker.call("POST", "/users/telegram/link", 400, json={"email": other, "chat": 1})
    checker.call("POST", "/users/telegram/link", 404, json={"email": f"missing-{email}"})
    checker.call("POST", "/users/telegram/link", 401, json={"email": other}, token=False)
    checker.call("POST", "/users/telegram/link", 413, content=b"[" + b" " * (1024 * 1024) + b"]")

    gone = key()
    checker.call("DELETE", "/users/{email}", 200, path=f"/users/{other}", headers=gone)
    again = checker.call("DELETE", "/users/{email}", 200, path=f"/users/{other}", headers=gone)
    assert again.headers["Idempotent-Replayed"] == "true"
    checker.call("DELETE", "/users/{email}", 404, path=f"/users/{other}", headers=key())
    checker.call("DELETE", "/users/{email}", 400, path=f"/users/{other}")
    checker.call("DELETE", "/users/{email}", 422, path=f"/users/{email}", headers=gone)
    checker.call("DELETE", "/users/{email}", 401, path=f"/users/{email}", headers=key(), token=False)

    made = checker.call("POST", "/tokens", 201, json={"scope": "write", "name": "openapi"}).json()
    scoped = {"Authorization": f"Bearer {made['token']}"}
    checker.call("DELETE", "/users/{email}", 403, path=f"/users/{email}", headers={**key(), **scoped})
    checker.call("POST", "/tokens", 400, json={"scope": "root"})
    checker.call("POST", "/tokens", 401, json={"scope": "read"}, token=False)
    checker.call("POST", "/tokens", 403, json={"scope": "read"}, headers=scoped)
    checker.call("POST", "/tokens", 413, content=b"{" + b" " * (1024 * 1024) + b"}")
    checker.call("GET", "/tokens", 200)
    checker.call("GET", "/tokens", 401, token=False)
    checker.call("GET", "/tokens", 403, headers=scoped)
    checker.call("DELETE", "/tokens/{token_id}", 403, path=f"/tokens/{made['id']}", headers=scoped)
    checker.call("DELETE", "/tokens/{token_id}", 200, path=f"/tokens/{made['id']}")
    checker.call("DELETE", "/tokens/{token_id}", 404, path="/tokens/999999")
    checker.call("DELETE", "/tokens/{token_id}", 401, path=f"/tokens/{made['id']}", token=False)
    checker.assert_every_operation_exercised()


@pytest.mark.parametrize("checker", ["data-collector"], indirect=True)
def test_data_collector_answers_match_the_document(platform: Platform, checker: Checker) -> None:
    checker.common_routes()
    email = platform.create_user("doc")
    airport = "LOWW"  # Vienna: no other test names it
    day = yesterday_noon()  # the latest complete day: today's flights are not served yet
    platform.opensky.add_flights(
        [
            make_flight(
                f"d0c{i:03x}", day - 7200 + i, day - 3600 + i, departure="LIRF", arrival=airport, callsign="DOC1"
            )
            for i in range(3)
        ]
    )
    interest = {"email": email, "airport_code": airport.lower(), "high_value": 1}
    checker.call("POST", "/interests", 201, json=interest)
    checker.call("POST", "/interests", 409, json=interest)
    checker.call("POST", "/interests", 400, json={**interest, "airport_code": "QQQQ"})
    checker.call("POST", "/interests", 400, json={**interest, "high_value": 1, "low_value": 2})
    checker.call("POST", "/interests", 404, json={**interest, "email": f"missing-{email}"})
    checker.call("POST", "/interests", 401, json=interest, token=False)
    checker.call("POST", "/interests", 413, content=b"{" + b" " * (1024 * 1024) + b"}")
    checker.call("PUT", "/interests", 200, json={"email": email, "airport_code": airport, "low_value": None})
    checker.call("PUT", "/interests", 400, json={"email": email, "airport_code": airport})
    checker.call("PUT", "/interests", 404, json={"email": email, "airport_code": "LIML", "low_value": 1})
    checker.call("PUT", "/interests", 401, json=interest, token=False)
    checker.call("PUT", "/interests", 413, content=b"{" + b" " * (1024 * 1024) + b"}")
    listed = checker.call("GET", "/interests/{email}", 200, path=f"/interests/{email}")
    assert listed.json()["interests"] == [{"airport_code": airport, "high_value": 1, "low_value": None, "live": False}]
    checker.call("GET", "/interests/{email}", 400, path="/interests/nul%00@example.com")
    checker.call("GET", "/interests/{email}", 401, path=f"/interests/{email}", token=False)

    summary = checker.call("POST", "/collect", 200).json()
    assert airport in [a["airport"] for a in summary["airports"]]
    checker.call("POST", "/collect", 401, token=False)
    status = checker.call("GET", "/collector/status", 200).json()
    assert airport in [a["airport"] for a in status["airports"]]
    checker.call("GET", "/collector/status", 401, token=False)

    flights = checker.call("GET", "/flights/{icao}", 200, path=f"/flights/{airport.lower()}?limit=2").json()
    assert len(flights) == 2
    checker.call("GET", "/flights/{icao}", 200, path=f"/flights/{airport}?type=departures")
    checker.call("GET", "/flights/{icao}", 400, path=f"/flights/{airport}?type=both")
    checker.call("GET", "/flights/{icao}", 400, path=f"/flights/{airport}?limit=0")
    checker.call("GET", "/flights/{icao}", 401, path=f"/flights/{airport}", token=False)
    checker.call("GET", "/flights/average/{icao}", 200, path=f"/flights/average/{airport}?days=2")
    checker.call("GET", "/flights/average/{icao}", 400, path=f"/flights/average/{airport}?days=366")
    checker.call("GET", "/flights/average/{icao}", 404, path="/flights/average/ZZZY")
    checker.call("GET", "/flights/average/{icao}", 401, path=f"/flights/average/{airport}", token=False)
    stats = checker.call("GET", "/flights/stats/{icao}", 200, path=f"/flights/stats/{airport}?days=2").json()
    assert stats["total"] == 3 and len(stats["buckets"]) == 2
    checker.call("GET", "/flights/stats/{icao}", 200, path=f"/flights/stats/{airport}?granularity=hour&type=arrivals")
    checker.call("GET", "/flights/stats/{icao}", 400, path=f"/flights/stats/{airport}?granularity=week")
    checker.call("GET", "/flights/stats/{icao}", 400, path="/flights/stats/LO%00W")
    checker.call("GET", "/flights/stats/{icao}", 401, path=f"/flights/stats/{airport}", token=False)
    checker.call("GET", "/flights/last/{icao}", 200, path=f"/flights/last/{airport}")
    checker.call("GET", "/flights/last/{icao}", 404, path="/flights/last/ZZZY")
    checker.call("GET", "/flights/last/{icao}", 400, path="/flights/last/LO%00W")
    checker.call("GET", "/flights/last/{icao}", 401, path=f"/flights/last/{airport}", token=False)

    removal = {"email": email, "airport_code": airport}
    checker.call("DELETE", "/interests", 200, json=removal)
    checker.call("DELETE", "/interests", 404, json=removal)
    checker.call("DELETE", "/interests", 400, json={"airport_code": airport})
    checker.call("DELETE", "/interests", 401, json=removal, token=False)
    checker.call("DELETE", "/interests", 413, content=b"{" + b" " * (1024 * 1024) + b"}")
    checker.assert_every_operation_exercised()


@pytest.mark.parametrize("checker", ["sla-breach-detector"], indirect=True)
def test_sla_breach_detector_answers_match_the_document(checker: Checker) -> None:
    checker.common_routes()
    current = checker.call("GET", "/sla/config", 200).json()
    checker.call("GET", "/sla/config", 401, token=False)
    assert checker.call("POST", "/sla/config", 200, json=current).json() == current  # unchanged: harmless
    too_fast = {**current, "settings": {**current["settings"], "t_check": 1}}
    assert "t_check" in checker.call("POST", "/sla/config", 400, json=too_fast).json()["error"]
    checker.call("POST", "/sla/config", 400, json={"metrics": [], "settings": {"t_check": 30}})
    checker.call("POST", "/sla/config", 400, content=b"[1, 2]")
    checker.call("POST", "/sla/config", 401, json=current, token=False)
    checker.call("POST", "/sla/config", 413, content=b"{" + b" " * (1024 * 1024) + b"}")
    stats = checker.call("GET", "/breach/stats", 200).json()
    assert {m["name"] for m in current["metrics"]} <= set(stats)
    checker.call("GET", "/breach/stats", 401, token=False)
    checker.assert_every_operation_exercised()


@pytest.mark.parametrize("checker", ["alert-notifier"], indirect=True)
def test_alert_notifier_answers_match_the_document(platform: Platform, checker: Checker) -> None:
    checker.common_routes()
    # A real delivery to list: a user over a threshold at an airport with flights, one cycle.
    email = platform.create_user("doc-notify", chat_id=str(uuid.uuid4().int % 10**12))
    airport, day = "LOWS", yesterday_noon()  # Salzburg: no other test names it
    platform.opensky.add_flights(
        [make_flight(f"d1c{i:03x}", day - 7200, day - 3600 + i, arrival=airport) for i in range(2)]
    )
    with platform.client("data-collector") as collector:
        added = collector.post("/interests", json={"email": email, "airport_code": airport, "high_value": 0})
        assert added.status_code == 201, added.text
        assert collector.post("/collect").status_code == 200
    path = f"/notifications?email={email}"
    assert wait_until(lambda: checker.client.get(path).json() != [], 60, 0.2), "no delivery was recorded"
    deliveries = checker.call("GET", "/notifications", 200, path=path).json()
    assert deliveries[0]["kind"] == "alert" and deliveries[0]["status"] in ("sent", "pending")
    checker.call("GET", "/notifications", 200, path="/notifications?limit=5")
    checker.call("GET", "/notifications", 200, path="/notifications?email=nobody@example.com")
    checker.call("GET", "/notifications", 400, path="/notifications?limit=501")
    checker.call("GET", "/notifications", 400, path="/notifications?email=a%00b")
    checker.call("GET", "/notifications", 401, token=False)
    bot = checker.call("GET", "/telegram/bot", 200).json()
    assert bot["link_base"] == f"https://t.me/{bot['username']}"
    checker.call("GET", "/telegram/bot", 401, token=False)
    checker.assert_every_operation_exercised()


@pytest.mark.parametrize("checker", ["alert-system"], indirect=True)
def test_alert_system_answers_match_the_document(checker: Checker) -> None:
    checker.common_routes()
    checker.assert_every_operation_exercised()
