"""Scoped, revocable API tokens on the real platform: made, listed and revoked with the CLI, each
scope allowed exactly its requests on every service (directly and through the gateway), a
revocation refused by every service within seconds with no restart, the bootstrap token still
printed by `flightctl auth token`, and no token in any log."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from flightctl.platform.proc import wait_until
from flightctl.services.common import auth
from tests.conftest import Platform

PUBLIC = ("user-manager", "data-collector", "sla-breach-detector", "alert-notifier")


def create(platform: Platform, scope: str, name: str) -> tuple[int, str]:
    made = platform.flightctl("auth", "token", "create", "--scope", scope, "--name", name)
    token = made.stdout.strip()
    assert token.startswith(auth.PREFIX) and "\n" not in token, made.stdout
    assert "shown only this once" in made.stderr
    listed = json.loads(platform.flightctl("auth", "token", "list", "-o", "json").stdout)
    (row,) = [t for t in listed if t["name"] == name]
    return int(row["id"]), token


def call(platform: Platform, service: str, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=platform.url(service), timeout=30) as client:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return client.request(method, path, headers=headers, **kwargs)


def test_each_scope_is_allowed_exactly_its_requests(platform: Platform) -> None:
    suffix = uuid.uuid4().hex[:8]
    tokens = {scope: create(platform, scope, f"{scope}-{suffix}")[1] for scope in auth.SCOPES}
    email = platform.create_user("scoped")
    config = call(platform, "sla-breach-detector", "GET", "/sla/config", platform.token).json()

    def outcome(token: str) -> dict[str, int]:
        victim = platform.create_user("victim")
        key = {"Idempotency-Key": str(uuid.uuid4())}
        return {
            "read users": call(platform, "user-manager", "GET", f"/users/{email}", token).status_code,
            "read interests": call(platform, "data-collector", "GET", f"/interests/{email}", token).status_code,
            "read sla": call(platform, "sla-breach-detector", "GET", "/breach/stats", token).status_code,
            "read deliveries": call(platform, "alert-notifier", "GET", "/notifications", token).status_code,
            "add interest": call(
                platform, "data-collector", "POST", "/interests", token, json={"email": email, "airport_code": "LIRF"}
            ).status_code,
            "remove interest": call(
                platform, "data-collector", "DELETE", "/interests", token, json={"email": email, "airport_code": "LIRF"}
            ).status_code,
            "set sla": call(platform, "sla-breach-detector", "POST", "/sla/config", token, json=config).status_code,
            "delete user": call(platform, "user-manager", "DELETE", f"/users/{victim}", token, headers=key).status_code,
            "list tokens": call(platform, "user-manager", "GET", "/tokens", token).status_code,
        }

    assert outcome(tokens["read"]) == {
        "read users": 200,
        "read interests": 200,
        "read sla": 200,
        "read deliveries": 200,
        "add interest": 403,
        "remove interest": 403,
        "set sla": 403,
        "delete user": 403,
        "list tokens": 403,
    }
    assert outcome(tokens["write"]) == {
        "read users": 200,
        "read interests": 200,
        "read sla": 200,
        "read deliveries": 200,
        "add interest": 201,
        "remove interest": 200,
        "set sla": 403,
        "delete user": 403,
        "list tokens": 403,
    }
    assert set(outcome(tokens["admin"]).values()) <= {200, 201}
    # A refusal is JSON and names the scope it needed.
    refused = call(platform, "user-manager", "POST", "/tokens", tokens["write"], json={"scope": "admin"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/json")
    assert refused.json() == {"error": "this API token's scope (write) does not allow this request: it needs admin"}
    # Through the gateway too.
    with platform.gateway(token=False) as gateway:
        read = {"Authorization": f"Bearer {tokens['read']}"}
        assert gateway.get(f"/user-manager/users/{email}", headers=read).status_code == 200
        denied = gateway.post("/data-collector/interests", json={"email": email, "airport_code": "LIML"}, headers=read)
        assert denied.status_code == 403 and "needs write" in denied.json()["error"]


def test_a_revoked_token_is_refused_everywhere_within_seconds_without_a_restart(platform: Platform) -> None:
    token_id, token = create(platform, "read", f"revoked-{uuid.uuid4().hex[:8]}")
    paths = {
        "user-manager": "/users",
        "data-collector": "/interests/nobody@example.com",
        "sla-breach-detector": "/sla/config",
        "alert-notifier": "/notifications",
    }
    for service in PUBLIC:  # every service has seen (and cached) the token
        assert call(platform, service, "GET", paths[service], token).status_code == 200
    revoked = json.loads(platform.flightctl("auth", "token", "revoke", str(token_id), "-o", "json").stdout)
    assert revoked["revoked"] is True and revoked["id"] == token_id
    started = time.monotonic()
    for service in PUBLIC:
        assert wait_until(lambda s=service: call(platform, s, "GET", paths[s], token).status_code == 401, 15), service
    assert time.monotonic() - started < auth.CACHE_SECONDS + 5
    answer = call(platform, "data-collector", "GET", paths["data-collector"], token)
    assert answer.json() == {"error": "the API token is not valid (unknown or revoked)"}
    # Revoking again changes nothing; an unknown id is a 404 (exit 1, one line).
    again = json.loads(platform.flightctl("auth", "token", "revoke", str(token_id), "-o", "json").stdout)
    assert again["revoked_at"] == revoked["revoked_at"]
    missing = platform.flightctl("auth", "token", "revoke", "999999", check=False)
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1 and "HTTP 404" in missing.stderr


def test_the_list_shows_every_token_but_never_a_token(platform: Platform) -> None:
    token_id, token = create(platform, "write", f"listed-{uuid.uuid4().hex[:8]}")
    assert call(platform, "user-manager", "GET", "/users", token).status_code == 200
    listed = platform.flightctl("auth", "token", "list", "-o", "json").stdout
    assert token not in listed and auth.digest(token) not in listed
    (row,) = [t for t in json.loads(listed) if t["id"] == token_id]
    assert set(row) == {"id", "name", "scope", "created_at", "last_used_at", "revoked", "revoked_at"}
    assert row["scope"] == "write" and row["revoked"] is False and row["last_used_at"] is not None
    table = platform.flightctl("auth", "token", "list").stdout
    assert table.splitlines()[0].split() == ["ID", "NAME", "SCOPE", "CREATED_AT", "LAST_USED_AT", "REVOKED"]
    # The bootstrap token is still what `flightctl auth token` prints.
    assert platform.flightctl("auth", "token").stdout.strip() == platform.token


def test_bad_token_requests_are_400_and_401(platform: Platform) -> None:
    with platform.client("user-manager") as users:
        assert users.post("/tokens", json={"scope": "root"}).status_code == 400
        assert users.post("/tokens", json={"scope": "read", "name": ""}).status_code == 400
        assert users.post("/tokens", json={"scope": "read", "extra": 1}).status_code == 400
        assert users.delete("/tokens/999999").status_code == 404
    bogus = call(platform, "user-manager", "GET", "/users", auth.new_token())
    assert bogus.status_code == 401 and bogus.json()["error"] == "the API token is not valid (unknown or revoked)"


def test_no_token_is_ever_written_to_a_log(platform: Platform) -> None:
    _id, token = create(platform, "admin", f"logged-{uuid.uuid4().hex[:8]}")
    for service in PUBLIC:
        call(platform, service, "GET", "/nowhere", token)
        call(platform, service, "POST", "/nowhere", token, json={})
        call(platform, service, "GET", "/ping", token)
    with platform.gateway(token=False) as gateway:
        gateway.get("/user-manager/users", headers={"Authorization": f"Bearer {token}"})
    secrets = {token, platform.token, auth.digest(token)}
    logs = sorted((platform.home / "logs").glob("*.log"))
    assert logs
    found = [(log.name, secret[:8]) for log in logs for secret in secrets if secret in log.read_text(errors="replace")]
    assert found == []
