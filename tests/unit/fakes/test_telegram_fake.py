"""Self-tests of tests.fakes.telegram, talking to it over real HTTP with urllib."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.telegram import FakeTelegram, Fault

REPO_ROOT = Path(__file__).resolve().parents[3]
TOKEN = "123456:TEST-TOKEN"


def request(
    url: str,
    body: bytes | None = None,
    content_type: str | None = None,
    timeout: float = 5,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Send a request and return status, headers and the decoded JSON answer."""
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), json.loads(err.read())


def api(fake: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """Call a Bot API method with a JSON body."""
    status, _, answer = request(
        f"{fake.api_url}/bot{fake.token}/{method}",
        json.dumps(params).encode(),
        "application/json",
    )
    return status, answer


def multipart(fields: dict[str, str], boundary: str = "xYzZy0123") -> tuple[bytes, str]:
    """Encode fields as multipart/form-data the way HTTP clients do."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def test_get_me_by_get_and_post(fake: FakeTelegram) -> None:
    assert fake.api_url == f"http://127.0.0.1:{fake.port}"
    status, headers, answer = request(f"{fake.api_url}/bot{TOKEN}/getMe")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert answer["ok"] is True
    me = answer["result"]
    assert me["id"] == 123456
    assert me["is_bot"] is True
    assert me["username"] == "flightctl_test_bot"
    assert me["first_name"] == "flightctl test"
    assert me["can_join_groups"] is True
    assert me["can_read_all_group_messages"] is False
    assert me["supports_inline_queries"] is False
    assert api(fake, "getMe")[1]["result"] == me


def test_wrong_token_unknown_method_and_bad_path(fake: FakeTelegram) -> None:
    status, headers, answer = request(f"{fake.api_url}/bot999:WRONG/getMe")
    assert status == 401
    assert headers["Content-Type"] == "application/json"
    assert answer == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    status, _, answer = request(f"{fake.api_url}/bot{TOKEN}/noSuchMethod")
    assert (status, answer) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, _, answer = request(f"{fake.api_url}/getMe")
    assert status == 404
    assert fake.calls == []


def test_send_message_json(fake: FakeTelegram) -> None:
    status, answer = api(fake, "sendMessage", chat_id=42, text="LIRF: 10 flights")
    assert status == 200
    result = answer["result"]
    assert result["chat"] == {"id": 42, "type": "private"}
    assert result["text"] == "LIRF: 10 flights"
    assert isinstance(result["message_id"], int)
    assert abs(result["date"] - time.time()) < 5
    assert fake.wait_for_messages(1, timeout=1)
    (message,) = fake.messages
    assert (message.chat_id, message.text, message.parse_mode) == ("42", "LIRF: 10 flights", None)
    assert message.message_id == result["message_id"]
    assert [a.status for a in fake.attempts] == [200]


def test_send_message_urlencoded_multipart_and_query(fake: FakeTelegram) -> None:
    url = f"{fake.api_url}/bot{TOKEN}/sendMessage"
    form = urllib.parse.urlencode({"chat_id": "-1001", "text": "form å", "parse_mode": "HTML"})
    status, _, answer = request(url, form.encode(), "application/x-www-form-urlencoded")
    assert status == 200
    assert answer["result"]["chat"]["id"] == -1001

    body, ctype = multipart({"chat_id": "7", "text": "multi\r\npart ✈", "parse_mode": "HTML"})
    status, _, answer = request(url, body, ctype)
    assert status == 200
    assert answer["result"]["text"] == "multi\r\npart ✈"

    query = urllib.parse.urlencode({"chat_id": "@flightctl_alerts", "text": "query"})
    status, _, answer = request(f"{url}?{query}")
    assert status == 200
    assert answer["result"]["chat"]["type"] == "channel"

    assert [(m.chat_id, m.text, m.parse_mode) for m in fake.messages] == [
        ("-1001", "form å", "HTML"),
        ("7", "multi\r\npart ✈", "HTML"),
        ("@flightctl_alerts", "query", None),
    ]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"chat_id": 1, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": 1}, "Bad Request: message text is empty"),
        ({"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": "abc", "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": "12a", "text": "hi"}, "Bad Request: chat not found"),
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
    ],
)
def test_send_message_refused(fake: FakeTelegram, params: dict[str, Any], description: str) -> None:
    status, answer = api(fake, "sendMessage", **params)
    assert status == 400
    assert answer == {"ok": False, "error_code": 400, "description": description}
    assert fake.messages == []
    assert [a.status for a in fake.attempts] == [400]


def test_text_of_exactly_4096_characters_is_accepted(fake: FakeTelegram) -> None:
    assert api(fake, "sendMessage", chat_id=1, text="x" * 4096)[0] == 200


@pytest.mark.parametrize("parse_mode", ["MarkdownV2", "Markdown", "markdown", "BBCode"])
def test_parse_modes_other_than_html_are_unsupported(fake: FakeTelegram, parse_mode: str) -> None:
    status, answer = api(fake, "sendMessage", chat_id=1, text="*LIRF* 1.0", parse_mode=parse_mode)
    assert (status, answer) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: unsupported parse_mode"},
    )
    assert fake.messages == []
    assert [(a.parse_mode, a.status, a.description) for a in fake.attempts] == [
        (parse_mode, 400, "Bad Request: unsupported parse_mode")
    ]


@pytest.mark.parametrize("parse_mode", ["none", "None", ""])
def test_parse_mode_none_is_plain_text(fake: FakeTelegram, parse_mode: str) -> None:
    status, answer = api(fake, "sendMessage", chat_id=1, text="1 < 2 & <b>", parse_mode=parse_mode)
    assert status == 200
    assert answer["result"]["text"] == "1 < 2 & <b>"


def test_html_checks(fake: FakeTelegram) -> None:
    ok = '<b>LIRF</b> &lt; 10 &amp; <a href="https://x.org/?a=1&amp;b=2">map</a> &#9992;'
    status, answer = api(fake, "sendMessage", chat_id=1, text=ok, parse_mode="HTML")
    assert status == 200
    assert answer["result"]["text"] == "LIRF < 10 & map ✈"
    assert api(fake, "sendMessage", chat_id=1, text="<i>ok</i>", parse_mode="html")[1]["result"]["text"] == "ok"
    for bad in ("1 < 2", "<p>para</p>", "Tom & Jerry", "<b>unclosed", "<b>x</i>"):
        status, answer = api(fake, "sendMessage", chat_id=1, text=bad, parse_mode="HTML")
        assert status == 400, bad
        assert answer["description"].startswith("Bad Request: can't parse entities: "), bad
    assert len(fake.messages) == 2


def test_faults_are_attempts_not_messages(fake: FakeTelegram) -> None:
    fake.queue_faults(Fault(status=429, retry_after=2), Fault(status=500), Fault(status=502), Fault(down=True))
    assert api(fake, "getMe")[0] == 200  # only sendMessage consumes faults

    status, answer = api(fake, "sendMessage", chat_id=1, text="a")
    assert status == 429
    assert answer == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }
    status, answer = api(fake, "sendMessage", chat_id=1, text="a")
    assert answer == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    status, answer = api(fake, "sendMessage", chat_id=1, text="a")
    assert (status, answer["error_code"]) == (502, 502)
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
        api(fake, "sendMessage", chat_id=1, text="a")
    assert api(fake, "sendMessage", chat_id=1, text="a")[0] == 200

    assert fake.wait_for_attempts(5, timeout=1)
    assert [a.status for a in fake.attempts] == [429, 500, 502, None, 200]
    assert len(fake.messages) == 1
    assert fake.pending_faults == 0


def test_get_updates_offsets_and_entities(fake: FakeTelegram) -> None:
    first = fake.push_update(42, "/start ABC123", username="mario")
    fake.push_update(42, "hello")
    status, answer = api(fake, "getUpdates", timeout=0)
    assert status == 200
    updates = answer["result"]
    assert [u["update_id"] for u in updates] == [first["update_id"], first["update_id"] + 1]
    message = updates[0]["message"]
    assert message["text"] == "/start ABC123"
    assert message["chat"]["id"] == 42
    assert message["chat"]["type"] == "private"
    assert message["from"]["username"] == "mario"
    assert message["from"]["is_bot"] is False
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert "entities" not in updates[1]["message"]

    # an offset confirms (and forgets) every update below it
    status, answer = api(fake, "getUpdates", offset=first["update_id"] + 1, timeout=0)
    assert [u["message"]["text"] for u in answer["result"]] == ["hello"]
    assert [u["message"]["text"] for u in api(fake, "getUpdates")[1]["result"]] == ["hello"]
    assert api(fake, "getUpdates", offset=first["update_id"] + 2)[1]["result"] == []
    assert fake.pending_updates == []


def test_get_updates_long_poll_wakes_on_new_update(fake: FakeTelegram) -> None:
    timer = threading.Timer(0.1, fake.push_update, args=(7, "/start XYZ"))
    started = time.monotonic()
    timer.start()
    try:
        status, answer = api(fake, "getUpdates", timeout=30)
    finally:
        timer.cancel()
    assert status == 200
    assert [u["message"]["text"] for u in answer["result"]] == ["/start XYZ"]
    assert time.monotonic() - started < 1


def test_stop_ends_a_long_poll(fake: FakeTelegram) -> None:
    result: list[Any] = []
    client = threading.Thread(target=lambda: result.append(api(fake, "getUpdates", timeout=30)))
    started = time.monotonic()
    client.start()
    assert fake.wait_for_calls("getUpdates", 1, timeout=1)
    fake.stop()
    client.join(timeout=5)
    assert result == [(200, {"ok": True, "result": []})]
    assert time.monotonic() - started < 1


def test_webhook_and_command_methods(fake: FakeTelegram) -> None:
    assert api(fake, "deleteWebhook", drop_pending_updates=True) == (
        200,
        {"ok": True, "result": True},
    )
    commands = [{"command": "start", "description": "link your account"}]
    assert api(fake, "setMyCommands", commands=commands) == (200, {"ok": True, "result": True})
    assert api(fake, "getWebhookInfo")[1] == {
        "ok": True,
        "result": {"url": "", "has_custom_certificate": False, "pending_update_count": 0},
    }
    assert [c.method for c in fake.calls] == ["deleteWebhook", "setMyCommands", "getWebhookInfo"]
    assert fake.calls[1].params["commands"] == commands


def test_wait_for_messages(fake: FakeTelegram) -> None:
    assert not fake.wait_for_messages(1, timeout=0.01)
    sender = threading.Thread(target=api, args=(fake, "sendMessage"), kwargs={"chat_id": 1, "text": "x"})
    sender.start()
    assert fake.wait_for_messages(1, timeout=2)
    sender.join(timeout=2)


def test_bad_token_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="bot token"):
        FakeTelegram(token="not-a-token")


def test_standalone_process_prints_messages() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--token", "42:ABC"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        api_url = json.loads(proc.stdout.readline())["api_url"]
        body = json.dumps({"chat_id": 5, "text": "ciao"}).encode()
        status, _, _ = request(f"{api_url}/bot42:ABC/sendMessage", body, "application/json")
        assert status == 200
        printed = json.loads(proc.stdout.readline())
        assert (printed["chat_id"], printed["text"]) == ("5", "ciao")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
