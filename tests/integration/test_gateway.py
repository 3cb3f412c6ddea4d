"""The platform's real local gateway (NGINX in front of the real services): a write sent over
plain HTTP and followed to HTTPS really happens (308 keeps the method and body; a 301 made it a
GET that answered 200 and changed nothing), every HTTPS answer carries the security headers,
bodies over 1 MiB are a JSON 413 at the gateway and at each service, chunked or not."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Platform

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
PREFIXES = {"user-manager": "user-manager", "data-collector": "data-collector", "sla-breach-detector": "sla-detector",
            "alert-notifier": "notifier"}  # fmt: skip
TOO_BIG = 1024 * 1024 + 1


@pytest.fixture
def following(platform: Platform) -> Iterator[httpx.Client]:
    """A client of the plain-HTTP gateway that follows redirects (as Postman, newman, curl -L do)
    and sends the token on every hop (httpx alone drops it when the origin changes)."""
    tls = ssl.create_default_context(cafile=str(platform.home / "certs" / "gateway.crt"))

    def authorize(request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {platform.token}"

    with httpx.Client(
        base_url=platform.status["gateway_http"],
        verify=tls,
        follow_redirects=True,
        timeout=30,
        event_hooks={"request": [authorize]},
    ) as client:
        yield client


def test_a_write_over_http_follows_the_redirect_and_happens(platform: Platform, following: httpx.Client) -> None:
    email = f"redirected-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "first_name": "Grace", "last_name": "Hopper"}
    created = following.post("/user-manager/users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert [r.status_code for r in created.history] == [308]
    assert created.request.method == "POST" and created.status_code == 201, created.text
    assert following.get(f"/user-manager/users/{email}").json()["email"] == email

    interest = following.post("/data-collector/interests", json={"email": email, "airport_code": "LIRF"})
    assert (interest.request.method, interest.status_code) == ("POST", 201)
    removed = following.request("DELETE", "/data-collector/interests", json={"email": email, "airport_code": "LIRF"})
    assert (removed.request.method, removed.status_code) == ("DELETE", 200)

    deleted = following.delete(f"/user-manager/users/{email}", headers={"Idempotency-Key": str(uuid.uuid4())})
    assert [r.status_code for r in deleted.history] == [308]
    assert (deleted.request.method, deleted.status_code) == ("DELETE", 200)
    assert following.get(f"/user-manager/users/{email}").status_code == 404


def test_every_https_answer_carries_the_security_headers(platform: Platform) -> None:
    with platform.gateway() as gateway:
        answers = [
            gateway.get("/"),
            gateway.get("/user-manager/users"),
            gateway.get("/data-collector/interests/nobody@example.com"),
            gateway.post("/sla-detector/sla/config", content=b"not json"),  # a service's 400
            gateway.get("/nowhere"),  # the gateway's 404
        ]
    for answer in answers:
        assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS, answer.url


def chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        piece = min(64 * 1024, size - sent)
        yield b" " * piece
        sent += piece


# The routes that read a body (a route that takes none answers 404 or 405 without reading it).
POSTS = {"user-manager": "/users", "data-collector": "/interests", "sla-breach-detector": "/sla/config"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_1_mib_is_a_json_413_at_the_gateway_and_at_each_service(platform: Platform, chunked: bool) -> None:
    def body() -> bytes | Iterator[bytes]:
        return chunks(TOO_BIG) if chunked else b" " * TOO_BIG

    headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    with platform.gateway() as gateway:
        for path in [*(f"/{PREFIXES[s]}{p}" for s, p in POSTS.items()), "/notifier/notifications"]:
            answer = gateway.post(path, content=body(), headers=headers)
            assert answer.status_code == 413, (path, answer.text)
            assert answer.json() == {"error": "the request body is larger than 1 MiB"}
    for service, path in POSTS.items():
        with platform.client(service) as client:
            answer = client.post(path, content=body(), headers=headers)
            assert answer.status_code == 413, (service, answer.text)
            assert answer.json() == {"error": "the request body is larger than 1048576 bytes"}
