"""A request whose answer is lost after the server committed is retried with the same
Idempotency-Key, and user-manager runs it once; `replay list|run` show and re-send it."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

from tests.conftest import Platform
from tests.integration.cli.conftest import Cli
from tests.integration.cli.proxy import DroppingProxy


def test_a_lost_answer_is_retried_with_the_same_key_and_runs_once(cli: Cli, platform: Platform) -> None:
    email = f"cli-replay-{uuid.uuid4().hex[:8]}@example.com"
    key = f"replay-{uuid.uuid4()}"
    upstream = urlsplit(platform.url("user-manager")).port
    assert upstream is not None
    with DroppingProxy(upstream, drop=1) as proxy:
        created = cli(
            "users", "create", email, "--first-name", "Lin", "--last-name", "Lost", "--idempotency-key", key,
            "-o", "json", FLIGHTCTL_USER_MANAGER_URL=proxy.url,
        )  # fmt: skip
        assert created.exit_code == 0, created.output
        assert json.loads(created.stdout) == {"message": "User created successfully"}
        assert proxy.dropped == 1 and len(proxy.requests) == 2
        keys = [line for r in proxy.requests for line in r.decode().split("\r\n") if line.lower().startswith("idemp")]
        assert [k.lower() for k in keys] == [f"idempotency-key: {key}".lower()] * 2
    assert "the connection closed before the answer arrived; retrying in 0.5s" in created.stderr
    assert f"replayed the stored outcome of Idempotency-Key {key}" in created.stderr
    try:
        users = json.loads(cli("users", "list", "-o", "json").stdout)
        assert [u["email"] for u in users].count(email) == 1

        listed = json.loads(cli("replay", "list", "-o", "json").stdout)
        entry = next(e for e in listed if e["key"] == key)
        assert (entry["service"], entry["method"], entry["path"]) == ("user-manager", "POST", "/users")
        assert (entry["attempts"], entry["status"], entry["replayed"]) == (2, 201, True)
        table = cli("replay", "list", "--service", "user-manager").stdout.splitlines()
        assert table[0].split()[:3] == ["TIME", "KEY", "SERVICE"] and any(key in line for line in table)

        rerun = cli("replay", "run", key, "-o", "json")
        assert rerun.exit_code == 0, rerun.output
        again = json.loads(rerun.stdout)
        assert (again["status"], again["replayed"], again["same_as_original"]) == (201, True, True)
        assert [u["email"] for u in json.loads(cli("users", "list", "-o", "json").stdout)].count(email) == 1
    finally:
        assert cli("users", "delete", email).exit_code == 0


def test_replaying_a_request_to_a_service_without_keys_compares_the_outcome(cli: Cli) -> None:
    key = f"replay-{uuid.uuid4()}"
    first = cli("interests", "remove", "nobody@example.com", "LIRF", "--idempotency-key", key)
    assert first.exit_code == 1 and "(HTTP 404)" in first.stderr
    rerun = cli("replay", "run", key, "-o", "yaml")
    assert rerun.exit_code == 1 and rerun.stderr.strip().endswith("(HTTP 404)")
    assert "replayed: null" in rerun.stdout and "same_as_original: true" in rerun.stdout
    assert "does not say whether it replayed" in rerun.stdout
    unknown = cli("replay", "run", "no-such-key")
    assert unknown.exit_code == 1 and "no journaled request with Idempotency-Key no-such-key" in unknown.stderr
