"""`flightctl replay list|run` through the real CLI, with user-manager in memory: tax codes,
IBANs and chat ids are masked in the list, a request within the idempotency TTL is re-sent as
it was, and one past it is refused."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from flightctl.cli.context import Dependencies
from flightctl.cli.main import app, hoist_global_options
from flightctl.clients.api import ServiceClient
from flightctl.journal import FILE_NAME, Journal

TTL = 500
CLEAR = ("RSSMRA80A01H501U", "IT60X0542811101000000123456", "123456789")
CLEAN = {"FLIGHTCTL_CONTEXT": None, "FLIGHTCTL_TOKEN": None, "API_TOKEN": None, "FLIGHTCTL_USER_MANAGER_URL": None}


class UserManager:
    """Stores the outcome of every key and replays it, as user-manager does."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str | None, Any]] = []
        self.outcomes: dict[str, tuple[int, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        key = request.headers.get("Idempotency-Key")
        self.received.append((request.method, request.url.path, key, body))
        if key in self.outcomes:
            status, stored = self.outcomes[key]
            return httpx.Response(status, json=stored, headers={"Idempotent-Replayed": "true"})
        if request.url.path == "/users":
            outcome: tuple[int, Any] = (201, {"message": "User created successfully"})
        else:
            outcome = (200, {"message": "Telegram chat id linked", **body})
        if key is not None:
            self.outcomes[key] = outcome
        return httpx.Response(outcome[0], json=outcome[1])


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.user_manager = UserManager()

    def connect(self, service: str) -> ServiceClient:
        journal = Journal(self.home / FILE_NAME, ttl=TTL)
        transport = httpx.MockTransport(self.user_manager)
        return ServiceClient(service, "http://user-manager.test", "t", journal=journal, backoff=(), transport=transport)

    def __call__(self, *args: str) -> Result:
        env = {**CLEAN, "FLIGHTCTL_HOME": str(self.home), "IDEMPOTENCY_TTL_SECONDS": str(TTL)}
        argv = hoist_global_options(list(args))
        return CliRunner().invoke(app, argv, env=env, obj=Dependencies(connect=self.connect))


def written(home: Path) -> str:
    return "".join(path.read_text() for path in sorted(home.rglob("*")) if path.is_file())


def test_replay_list_masks_personal_data_and_run_resends_it_within_the_ttl(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    created = cli(
        "users", "create", "ada@example.com", "--first-name", "Ada", "--last-name", "Lovelace",
        "--tax-code", "RSSMRA80A01H501U", "--iban", "IT60X0542811101000000123456", "--idempotency-key", "k-create",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    linked = cli("users", "telegram", "ada@example.com", "123456789", "--idempotency-key", "k-chat", "-o", "json")
    assert linked.exit_code == 0, linked.output
    assert json.loads(linked.stdout)["telegram_chat_id"] == "123456789"  # the answer itself is shown as it is

    listed = cli("replay", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert not [value for value in CLEAR if value in listed.stdout]
    chat = next(row for row in json.loads(listed.stdout) if row["key"] == "k-chat")
    assert json.loads(chat["response"])["telegram_chat_id"] == "*******89"
    table = cli("replay", "list")
    assert table.exit_code == 0 and "k-create" in table.stdout
    assert not [value for value in CLEAR if value in table.stdout]
    assert not [value for value in CLEAR if value in (tmp_path / FILE_NAME).read_text()]

    rerun = cli("replay", "run", "k-create", "-o", "json")
    assert rerun.exit_code == 0, rerun.output
    outcome = json.loads(rerun.stdout)
    assert (outcome["status"], outcome["replayed"], outcome["same_as_original"]) == (201, True, True)
    method, path, key, body = cli.user_manager.received[-1]
    assert (method, path, key) == ("POST", "/users", "k-create")
    assert body["tax_code"] == "RSSMRA80A01H501U" and body["iban"] == "IT60X0542811101000000123456"

    rerun = cli("replay", "run", "k-chat", "-o", "json")
    assert rerun.exit_code == 0 and json.loads(rerun.stdout)["same_as_original"] is True
    assert cli.user_manager.received[-1][3] == {"email": "ada@example.com", "telegram_chat_id": "123456789"}


def test_a_request_past_the_ttl_keeps_no_personal_data_and_is_not_resent(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    # Journaled by an earlier command, longer ago than the TTL.
    earlier = Journal(tmp_path / FILE_NAME, ttl=TTL, clock=lambda: time.time() - 2 * TTL)
    earlier.request(
        "k-old", "user-manager", "POST", "/users/telegram", {"email": "a@b.it", "telegram_chat_id": "123456789"}
    )
    earlier.outcome("k-old", 1, status=200, body={"message": "Telegram chat id linked"})
    assert "123456789" in written(tmp_path)  # kept aside for a replay, so far

    listed = cli("replay", "list", "-o", "json")
    assert listed.exit_code == 0 and [row["key"] for row in json.loads(listed.stdout)] == ["k-old"]
    assert "123456789" not in written(tmp_path), "gone with the TTL"

    refused = cli("replay", "run", "k-old")
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: the request journaled under Idempotency-Key k-old is older than the idempotency TTL ({TTL}s): "
        "its tax code, IBAN or Telegram chat id are no longer kept and the service no longer knows the key; "
        "run the command again instead"
    ]
    assert cli.user_manager.received == []
