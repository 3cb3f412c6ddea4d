"""Every API command through CliRunner against the real local platform: table, JSON and YAML
output, and the exit code of each kind of failure."""

from __future__ import annotations

import json
import time
import uuid

import yaml

from tests.conftest import Platform
from tests.fakes.opensky import make_flight
from tests.integration.cli.conftest import Cli


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def test_users_in_every_format_and_their_errors(cli: Cli) -> None:
    email = unique("cli-user")
    created = cli("users", "create", email, "--first-name", "Ada", "--last-name", "Lovelace", "--tax-code",
                  "RSSMRA85T10A562S")  # fmt: skip
    assert created.exit_code == 0, created.output
    assert created.stdout.split() == ["FIELD", "VALUE", "message", "User", "created", "successfully"]
    try:
        got = cli("users", "get", email, "-o", "json")
        assert got.exit_code == 0, got.output
        user = json.loads(got.stdout)
        assert (user["email"], user["first_name"], user["last_name"]) == (email, "Ada", "Lovelace")
        assert user["telegram_chat_id"] is None

        listed = cli("users", "list", "-o", "yaml")
        assert listed.exit_code == 0
        mine = [u for u in yaml.safe_load(listed.stdout) if u["email"] == email]
        assert len(mine) == 1 and mine[0]["tax_code"] != "RSSMRA85T10A562S"  # masked

        linked = cli("users", "telegram", email, "--", "-4242001")
        assert linked.exit_code == 0, linked.output
        table = cli("users", "list")
        assert table.stdout.splitlines()[0].split() == ["EMAIL", "FIRST_NAME", "LAST_NAME", "TELEGRAM_CHAT_ID"]
        assert any(line.split() == [email, "Ada", "Lovelace", "-4242001"] for line in table.stdout.splitlines())

        again = cli("users", "create", email, "--first-name", "Ada", "--last-name", "Lovelace")
        assert again.exit_code == 1
        assert one_error_line(again.stderr).endswith("(HTTP 409)")
    finally:
        deleted = cli("users", "delete", email, "-o", "json")
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout) == {"message": "User deleted successfully"}
    gone = cli("users", "get", email)
    assert gone.exit_code == 1
    assert one_error_line(gone.stderr).startswith("error: user-manager: ") and "(HTTP 404)" in gone.stderr


def test_validation_is_usage_and_a_wrong_token_is_authentication(cli: Cli) -> None:
    invalid = cli("users", "create", "not-an-email", "--first-name", "A", "--last-name", "B")
    assert invalid.exit_code == 2
    assert one_error_line(invalid.stderr).endswith("(HTTP 400)")

    unknown_airport = cli("interests", "add", unique("nobody"), "ZZZZ", "--high", "1")
    assert unknown_airport.exit_code == 2 and "ZZZZ" in one_error_line(unknown_airport.stderr)

    wrong = cli("--token", "not-the-token", "users", "list")
    assert wrong.exit_code == 4
    assert one_error_line(wrong.stderr).endswith("(HTTP 401)")
    wrong_env = cli("flights", "last", "LIRF", FLIGHTCTL_TOKEN="also-wrong")
    assert wrong_env.exit_code == 4


def test_interests_flights_collect_and_notifications(cli: Cli, platform: Platform) -> None:
    email = unique("cli-watch")
    now = int(time.time())
    now -= now % 86400 + 36000  # 14:00 yesterday (UTC): the latest complete day, as OpenSky serves it
    tag = uuid.uuid4().hex[:4]
    platform.opensky.add_flights(
        [
            make_flight(f"c{tag}1", now - 7200, now - 3600, departure="EDDM", arrival="LIRF", callsign="DLH11"),
            make_flight(f"c{tag}2", now - 6000, now - 2400, departure="LIRF", arrival="EDDM", callsign="AZA22"),
            make_flight(f"c{tag}3", now - 5000, now - 1200, departure="EDDM", arrival="EGLL", callsign="BAW33"),
        ]
    )
    assert cli("users", "create", email, "--first-name", "Grace", "--last-name", "Hopper").exit_code == 0
    try:
        assert cli("interests", "add", email, "eddm").exit_code == 0
        duplicate = cli("interests", "add", email, "EDDM")
        assert duplicate.exit_code == 1 and "(HTTP 409)" in one_error_line(duplicate.stderr)
        assert cli("interests", "update", email, "EDDM", "--high", "10", "--low", "1").exit_code == 0
        listed = cli("interests", "list", email, "-o", "json")
        assert json.loads(listed.stdout) == {
            "email": email,
            "interests": [{"airport_code": "EDDM", "high_value": 10, "low_value": 1, "live": False}],
        }
        assert cli("interests", "update", email, "EDDM", "--clear-low").exit_code == 0
        table = cli("interests", "list", email)
        assert table.stdout.splitlines() == [
            "AIRPORT_CODE  KIND   HIGH_VALUE  LOW_VALUE",
            "EDDM          daily  10          -",
        ]
        nothing = cli("interests", "update", email, "EDDM")
        assert nothing.exit_code == 2

        collected = cli("collect", "-o", "json")
        assert collected.exit_code == 0, collected.output
        airports = {a["airport"]: a for a in json.loads(collected.stdout)["airports"]}
        assert airports["EDDM"]["flight_count"] == 3 and airports["EDDM"]["source"] == "opensky"
        collected_table = cli("collect")
        assert collected_table.stdout.splitlines()[0].split()[:3] == ["AIRPORT", "SOURCE", "FLIGHTS_STORED"]

        flights = cli("flights", "list", "EDDM", "--limit", "100", "-o", "json")
        mine = [f for f in json.loads(flights.stdout) if f["icao24"].startswith(f"c{tag}")]
        assert sorted(f["callsign"].strip() for f in mine) == ["AZA22", "BAW33", "DLH11"]
        flights_table = cli("flights", "list", "EDDM", "--type", "departures")
        assert flights_table.stdout.splitlines()[0].split()[:2] == ["ICAO24", "CALLSIGN"]
        assert f"c{tag}3" in flights_table.stdout and f"c{tag}2" not in flights_table.stdout
        last = json.loads(cli("flights", "last", "EDDM", "-o", "json").stdout)
        assert last["icao24"] == f"c{tag}3"
        average = yaml.safe_load(cli("flights", "average", "EDDM", "--days", "2", "-o", "yaml").stdout)
        assert average["airport"] == "EDDM" and average["average_flights_per_day"] > 0
        bad_type = cli("flights", "list", "EDDM", "--type", "sideways")
        assert bad_type.exit_code == 2 and "(HTTP 400)" in one_error_line(bad_type.stderr)
        no_flights = cli("flights", "last", "LFBO")
        assert no_flights.exit_code == 1 and "(HTTP 404)" in one_error_line(no_flights.stderr)

        # 3 flights are inside [1, 10]: nothing was delivered for this user.
        assert json.loads(cli("notifications", "list", "--email", email, "-o", "json").stdout) == []
        assert cli("notifications", "list", "--email", email).stdout.strip() == "(none)"
        assert cli("notifications", "list", "--limit", "0").exit_code == 2

        assert cli("interests", "remove", email, "EDDM").exit_code == 0
        removed_again = cli("interests", "remove", email, "EDDM")
        assert removed_again.exit_code == 1 and "(HTTP 404)" in one_error_line(removed_again.stderr)
    finally:
        assert cli("users", "delete", email).exit_code == 0


def test_a_daily_and_a_live_interest_in_one_airport_through_the_cli(cli: Cli) -> None:
    email = unique("cli-kinds")
    assert cli("users", "create", email, "--first-name", "Grace", "--last-name", "Hopper").exit_code == 0
    try:
        assert cli("interests", "add", email, "LIRN", "--high", "40").exit_code == 0
        live = cli("interests", "add", email, "lirn", "--live", "--high", "12", "-o", "json")
        assert live.exit_code == 0, live.output
        assert json.loads(live.stdout)["live"] is True
        again = cli("interests", "add", email, "LIRN", "--live")
        assert again.exit_code == 1 and "(HTTP 409)" in one_error_line(again.stderr)
        assert "live traffic" in again.stderr

        updated = cli("interests", "update", email, "LIRN", "--live", "--low", "2", "-o", "json")
        assert updated.exit_code == 0, updated.output
        assert {k: json.loads(updated.stdout)[k] for k in ("live", "high_value", "low_value")} == {
            "live": True,
            "high_value": 12,
            "low_value": 2,
        }
        assert cli("interests", "update", email, "LIRN", "--clear-high", "--low", "5").exit_code == 0  # the daily one
        assert cli("interests", "list", email).stdout.splitlines() == [
            "AIRPORT_CODE  KIND   HIGH_VALUE  LOW_VALUE",
            "LIRN          daily  -           5",
            "LIRN          live   12          2",
        ]
        listed = json.loads(cli("interests", "list", email, "-o", "json").stdout)["interests"]
        assert [(i["live"], i["low_value"]) for i in listed] == [(False, 5), (True, 2)]

        assert cli("interests", "remove", email, "LIRN", "--live").exit_code == 0
        assert cli("interests", "list", email).stdout.splitlines()[1:] == ["LIRN          daily  -           5"]
        gone = cli("interests", "remove", email, "LIRN", "--live")
        assert gone.exit_code == 1 and "(HTTP 404)" in one_error_line(gone.stderr) and "give live false" in gone.stderr
        assert cli("interests", "remove", email, "LIRN").exit_code == 0
        assert cli("interests", "list", email).stdout.strip() == "(none)"
    finally:
        assert cli("users", "delete", email).exit_code == 0


def test_auth_token_and_context_show_describe_the_running_platform(cli: Cli, platform: Platform) -> None:
    token = cli("auth", "token")
    assert token.exit_code == 0 and token.stdout.strip() == platform.token
    shown = json.loads(cli("context", "show", "-o", "json").stdout)
    assert shown["context"] == "local" and shown["token_source"] == "state.json"
    assert shown["services"] == {name: info["url"] for name, info in platform.status["services"].items()}
