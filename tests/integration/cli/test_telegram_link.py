"""`users telegram EMAIL --link` end to end against a stub of the two endpoints it uses
(user-manager `POST /users/telegram/link`, alert-notifier `GET /telegram/bot`) on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli.conftest import invoke


class Stub(ThreadingHTTPServer):
    daemon_threads = True
    bot: tuple[int, dict[str, Any]] = (200, {"username": "flightctl_bot", "link_base": "https://t.me/flightctl_bot"})
    seen: list[tuple[str, str, dict[str, str], Any]]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        server: Stub = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.seen.append(("POST", self.path, dict(self.headers), body))
        if self.path != "/users/telegram/link":
            self.answer(404, {"error": "Not found"})
        elif body["email"] != "ada@example.com":
            self.answer(404, {"error": "User not found"})
        else:
            self.answer(201, {"email": body["email"], "code": "Q3ZK8M", "expires_at": "2026-11-30T10:15:00Z"})

    def do_GET(self) -> None:
        server: Stub = self.server  # type: ignore[assignment]
        server.seen.append(("GET", self.path, dict(self.headers), None))
        self.answer(*server.bot) if self.path == "/telegram/bot" else self.answer(404, {"error": "Not found"})


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def link(home: Path, stub: Stub, *args: str, notifier: str | None = None) -> Any:
    url = f"http://127.0.0.1:{stub.server_address[1]}"
    env = {
        "FLIGHTCTL_HOME": str(home),
        "FLIGHTCTL_USER_MANAGER_URL": url,
        "FLIGHTCTL_ALERT_NOTIFIER_URL": notifier or url,
    }
    return invoke(env, "--token", "stub-token", "users", "telegram", *args)


def test_the_deep_link_when_the_notifier_has_a_bot(tmp_path: Path, stub: Stub) -> None:
    result = link(tmp_path, stub, "ada@example.com", "--link")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Open https://t.me/flightctl_bot?start=Q3ZK8M in Telegram and press Start (expires 2026-11-30T10:15:00Z)."
    )
    method, path, headers, body = stub.seen[0]
    assert (method, path, body) == ("POST", "/users/telegram/link", {"email": "ada@example.com"})
    assert headers["Authorization"] == "Bearer stub-token" and headers["Idempotency-Key"]
    as_json = json.loads(link(tmp_path, stub, "ada@example.com", "--link", "-o", "json").stdout)
    assert as_json["link"] == "https://t.me/flightctl_bot?start=Q3ZK8M" and as_json["bot"] == "flightctl_bot"


def test_without_a_bot_or_a_notifier_the_code_and_what_to_do(tmp_path: Path, stub: Stub) -> None:
    stub.bot = (503, {"error": "no Telegram bot is configured"})
    result = link(tmp_path, stub, "ada@example.com", "--link")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Code Q3ZK8M (expires 2026-11-30T10:15:00Z): send `/start Q3ZK8M` to the platform's Telegram bot "
        "(alert-notifier answered HTTP 503: no Telegram bot is configured)."
    )
    unreachable = link(tmp_path, stub, "ada@example.com", "--link", "-o", "json", notifier="http://127.0.0.1:9")
    data = json.loads(unreachable.stdout)
    assert data["link"] is None and data["hint"].startswith("send `/start Q3ZK8M`")
    assert "alert-notifier at http://127.0.0.1:9: cannot connect" in data["hint"]


def test_an_unknown_user_is_one_error_line(tmp_path: Path, stub: Stub) -> None:
    result = link(tmp_path, stub, "nobody@example.com", "--link")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: user-manager: User not found (HTTP 404)"
    journal = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in journal] == ["request", "outcome"]
