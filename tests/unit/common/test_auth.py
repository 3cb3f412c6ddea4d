"""Scoped API tokens at the HTTP edge: the bootstrap token is admin, a scoped token is looked up
by its SHA-256 behind a short cache, scopes nest (read < write < admin), every refusal is JSON
(401 no or bad token, 403 scope too narrow, 503 the store cannot answer), and no token is ever
written to the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from flightctl.services.common import auth
from flightctl.services.common.http import create_http_app
from tests.fakes.clock import FakeClock

BOOTSTRAP = "bootstrap-secret"


class Store:
    """A token store: digest -> principal; ``down`` makes every look-up fail."""

    def __init__(self) -> None:
        self.tokens: dict[str, auth.Principal] = {}
        self.asked: list[str] = []
        self.down = False

    def add(self, scope: str) -> str:
        token = auth.new_token()
        self.tokens[auth.digest(token)] = auth.Principal(len(self.tokens) + 1, scope)
        return token

    def __call__(self, token_digest: str) -> auth.Principal | None:
        self.asked.append(token_digest)
        if self.down:
            raise auth.StoreUnavailable("down")
        return self.tokens.get(token_digest)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def client(store: Store) -> FlaskClient:
    app = create_http_app("test", api_token=BOOTSTRAP, registry=CollectorRegistry(), health=dict, tokens=store)

    @app.get("/things")
    def read() -> dict[str, Any]:
        return {"ok": True}

    @app.post("/things")
    def write() -> dict[str, Any]:
        return {"ok": True}

    @app.delete("/things")
    @auth.requires(auth.ADMIN)
    def admin() -> dict[str, Any]:
        return {"ok": True}

    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def status(client: FlaskClient, method: str, token: str | None) -> int:
    headers = bearer(token) if token is not None else {}
    answer = client.open("/things", method=method, headers=headers)
    assert answer.is_json, answer.data
    return answer.status_code


def test_scopes_nest_read_write_admin(client: FlaskClient, store: Store) -> None:
    read, write, admin = store.add("read"), store.add("write"), store.add("admin")
    table = {
        token: [status(client, method, token) for method in ("GET", "POST", "DELETE")]
        for token in (read, write, admin, BOOTSTRAP)
    }
    assert table == {
        read: [200, 403, 403],
        write: [200, 200, 403],
        admin: [200, 200, 200],
        BOOTSTRAP: [200, 200, 200],
    }


def test_every_refusal_is_json_and_says_why(client: FlaskClient, store: Store) -> None:
    read = store.add("read")
    missing = client.get("/things")
    assert missing.status_code == 401
    assert missing.get_json() == {"error": "a valid API token is required (Authorization: Bearer <token>)"}
    for headers in ({"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        assert client.get("/things", headers=headers).status_code == 401
    unknown = client.get("/things", headers=bearer(auth.new_token()))
    assert unknown.status_code == 401
    assert unknown.get_json() == {"error": "the API token is not valid (unknown or revoked)"}
    narrow = client.post("/things", headers=bearer(read))
    assert narrow.status_code == 403
    assert narrow.get_json() == {"error": "this API token's scope (read) does not allow this request: it needs write"}
    store.down = True
    store.tokens.clear()
    unavailable = client.get("/things", headers=bearer(store.add("read")))
    assert unavailable.status_code == 503
    assert "user-manager is unreachable" in unavailable.get_json()["error"]
    # The bootstrap token never needs the store.
    assert status(client, "DELETE", BOOTSTRAP) == 200


def test_a_token_without_the_prefix_is_not_looked_up(client: FlaskClient, store: Store) -> None:
    assert status(client, "GET", "not-a-flightctl-token") == 401
    assert status(client, "GET", BOOTSTRAP + "x") == 401
    assert store.asked == []


def test_open_paths_need_no_token(client: FlaskClient) -> None:
    for path in ("/ping", "/health", "/metrics", "/openapi.json"):
        assert client.get(path).status_code in (200, 404)  # 404: "test" ships no OpenAPI document


def test_no_token_is_ever_logged(client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    read = store.add("read")
    for token in (read, BOOTSTRAP, auth.new_token()):
        for method in ("GET", "POST", "DELETE"):
            client.open("/things", method=method, headers=bearer(token))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert read not in logged and BOOTSTRAP not in logged and auth.PREFIX not in logged


# -- the cache ------------------------------------------------------------------------------------
def test_answers_are_cached_for_a_few_seconds_then_asked_again(store: Store) -> None:
    clock = FakeClock()
    cached = auth.CachedLookup(store, ttl=5, stale=300, clock=clock)
    token = store.add("write")
    key = auth.digest(token)
    assert cached(key) == auth.Principal(1, "write")
    clock.advance(4.9)
    assert cached(key) == auth.Principal(1, "write")
    assert len(store.asked) == 1
    del store.tokens[key]  # revoked
    clock.advance(0.2)
    assert cached(key) is None
    assert len(store.asked) == 2


def test_a_known_token_outlives_a_short_store_outage_but_not_a_long_one(store: Store) -> None:
    clock = FakeClock()
    cached = auth.CachedLookup(store, ttl=5, stale=300, clock=clock)
    key = auth.digest(store.add("read"))
    unknown = auth.digest(auth.new_token())
    assert cached(key) is not None and cached(unknown) is None
    store.down = True
    clock.advance(60)
    assert cached(key) == auth.Principal(1, "read")
    with pytest.raises(auth.StoreUnavailable):
        cached(unknown)  # an unknown token's answer is not stretched
    clock.advance(300)
    with pytest.raises(auth.StoreUnavailable):
        cached(key)


def test_forget_drops_the_cached_answers(store: Store) -> None:
    cached = auth.CachedLookup(store, ttl=5)
    key = auth.digest(store.add("admin"))
    cached(key)
    cached.forget(key)
    cached(key)
    assert len(store.asked) == 2


def test_tokens_and_digests() -> None:
    token = auth.new_token()
    assert token.startswith(auth.PREFIX) and len(token) == len(auth.PREFIX) + 43
    assert auth.new_token() != token
    assert len(auth.digest(token)) == 64 and auth.digest(token) == auth.digest(token)
    assert [auth.allows(scope, "write") for scope in auth.SCOPES] == [False, True, True]
    assert not auth.allows("root", "read")
    with pytest.raises(ValueError, match="scope must be one of read, write, admin"):
        auth.check_scope("superuser")
