"""ServiceClient against httpx.MockTransport: keys, journal, retries, error mapping. No network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from flightctl.clients.api import ApiError, ServiceClient, Unreachable
from flightctl.errors import AUTH, ERROR, USAGE, UsageError
from flightctl.journal import Journal

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*steps: Exception | httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler that raises or answers each step in turn, recording the requests."""
    seen: list[httpx.Request] = []
    pending = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = pending.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return handler, seen


def client(tmp_path: Path, handler: Handler, sleeps: list[float], messages: list[str]) -> ServiceClient:
    return ServiceClient(
        "user-manager",
        "http://127.0.0.1:1",
        "secret",
        journal=Journal(tmp_path / "journal.jsonl"),
        progress=messages.append,
        sleep=sleeps.append,
        transport=httpx.MockTransport(handler),
    )


def test_a_lost_answer_is_retried_with_the_same_key_and_journaled(tmp_path: Path) -> None:
    handler, seen = scripted(
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(201, json={"message": "User created successfully"}, headers={"Idempotent-Replayed": "true"}),
    )
    sleeps: list[float] = []
    messages: list[str] = []
    reply = client(tmp_path, handler, sleeps, messages).send("POST", "/users", json={"email": "a@b.it"}, key="k-1")

    assert (reply.status, reply.replayed, reply.attempts, reply.key) == (201, True, 3, "k-1")
    assert [r.headers["Idempotency-Key"] for r in seen] == ["k-1", "k-1", "k-1"]
    assert all(r.headers["Authorization"] == "Bearer secret" for r in seen)
    assert sleeps == [0.5, 1.0]
    assert "retrying in 0.5s (1/3) with the same Idempotency-Key k-1" in messages[0]
    assert "replayed the stored outcome" in messages[-1]

    entry = Journal(tmp_path / "journal.jsonl").find("k-1")
    assert entry is not None
    assert (entry.service, entry.method, entry.path) == ("user-manager", "POST", "/users")
    assert entry.body == {"email": "a@b.it"}
    assert [o.get("error", "").split(":")[0] for o in entry.outcomes[:2]] == ["ConnectError", "RemoteProtocolError"]
    assert entry.outcomes[2]["status"] == 201 and entry.outcomes[2]["replayed"] is True
    assert (tmp_path / "journal.jsonl").stat().st_mode & 0o777 == 0o600


def test_every_mutating_call_gets_a_fresh_key_by_default(tmp_path: Path) -> None:
    handler, seen = scripted(httpx.Response(200, json={}), httpx.Response(200, json={}))
    api = client(tmp_path, handler, [], [])
    first, second = api.send("POST", "/collect"), api.send("POST", "/collect")
    assert first.key != second.key and len(first.key) == 36
    assert first.replayed is None  # data-collector does not say
    assert [r.headers["Idempotency-Key"] for r in seen] == [first.key, second.key]


def test_http_errors_are_not_retried_and_map_to_exit_codes(tmp_path: Path) -> None:
    for status, code in ((500, ERROR), (404, ERROR), (409, ERROR), (400, USAGE), (422, USAGE), (401, AUTH)):
        handler, seen = scripted(httpx.Response(status, json={"error": f"nope {status}"}))
        sleeps: list[float] = []
        with pytest.raises(ApiError) as caught:
            client(tmp_path, handler, sleeps, []).send("DELETE", "/users/a@b.it")
        assert caught.value.exit_code == code
        assert caught.value.message == f"user-manager: nope {status} (HTTP {status})"
        assert len(seen) == 1 and sleeps == []


def test_giving_up_names_the_service_the_address_and_the_key(tmp_path: Path) -> None:
    handler, seen = scripted(*[httpx.ConnectError("refused")] * 4)
    sleeps: list[float] = []
    with pytest.raises(Unreachable) as caught:
        client(tmp_path, handler, sleeps, []).send("POST", "/users", json={}, key="k-2")
    message = caught.value.message
    assert "user-manager at http://127.0.0.1:1" in message and "flightctl status" in message
    assert "after 4 attempts" in message and "flightctl replay run k-2" in message
    assert sleeps == [0.5, 1.0, 2.0] and len(seen) == 4
    entry = Journal(tmp_path / "journal.jsonl").find("k-2")
    assert entry is not None and len(entry.outcomes) == 4


def test_reads_fail_fast_and_answer_errors_as_one_line(tmp_path: Path) -> None:
    handler, seen = scripted(httpx.ConnectError("refused"), httpx.Response(404, json={"error": "User not found"}))
    api = client(tmp_path, handler, [], [])
    with pytest.raises(Unreachable, match="cannot connect"):
        api.get("/users")
    with pytest.raises(ApiError, match=r"^user-manager: User not found \(HTTP 404\)$"):
        api.get("/users/x@y.it")
    assert len(seen) == 2
    assert not (tmp_path / "journal.jsonl").exists()  # reads are not journaled


def test_a_bad_key_is_a_usage_error(tmp_path: Path) -> None:
    handler, seen = scripted()
    for key in ("", "x" * 256, "tab\there", "é"):
        with pytest.raises(UsageError):
            client(tmp_path, handler, [], []).send("POST", "/users", key=key)
    assert seen == []


def test_a_non_json_error_body_is_still_one_line(tmp_path: Path) -> None:
    handler, _ = scripted(httpx.Response(502, text="<html>\n<b>Bad Gateway</b>\n</html>"))
    with pytest.raises(ApiError) as caught:
        client(tmp_path, handler, [], []).get("/users")
    assert caught.value.message == "user-manager: <html> <b>Bad Gateway</b> </html> (HTTP 502)"
    assert caught.value.exit_code == ERROR
