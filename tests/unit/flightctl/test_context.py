from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightctl.cli.context import Context, resolve_context, save_config, service_url_variable
from flightctl.cli.main import app, hoist_global_options
from flightctl.errors import FlightctlError, UsageError
from flightctl.platform.certs import make_self_signed
from flightctl.platform.layout import Home, State

CLEAN = {"FLIGHTCTL_CONTEXT": None, "FLIGHTCTL_TOKEN": None, "API_TOKEN": None, "FLIGHTCTL_USER_MANAGER_URL": None}


def invoke(home: Path, *args: str, **env: str) -> object:
    return CliRunner().invoke(app, hoist_global_options(list(args)), env={**CLEAN, "FLIGHTCTL_HOME": str(home), **env})


def test_context_precedence_option_then_config_then_local(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert resolve_context(home, None) == ("local", "default")
    save_config(home, {"context": "kind"})
    assert resolve_context(home, None) == ("kind", "config")
    assert resolve_context(home, "local") == ("local", "option")
    with pytest.raises(UsageError):
        resolve_context(home, "prod")


def test_token_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_TOKEN", raising=False)
    home = Home(tmp_path)
    assert Context(home).token() is None
    monkeypatch.setenv("API_TOKEN", "from-env")
    assert Context(home).token() == "from-env"
    home.save_state(State(port_base=23400, api_token="from-state", postgres_password="p", kafka_cluster_id="c"))
    assert Context(home).token_and_source() == ("from-state", "state.json")
    save_config(home, {"context": "local", "tokens": {"local": "remembered"}})
    assert Context(home).token() == "remembered"
    assert Context(home, token_override="given").token() == "given"


def test_service_urls_come_from_state_or_an_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home(tmp_path)
    monkeypatch.delenv(service_url_variable("user-manager"), raising=False)
    with pytest.raises(FlightctlError, match="flightctl up --local"):
        Context(home).service_url("user-manager")
    home.save_state(State(port_base=23400, api_token="t", postgres_password="p", kafka_cluster_id="c"))
    assert Context(home).service_url("data-collector") == "http://127.0.0.1:23411"
    monkeypatch.setenv("FLIGHTCTL_USER_MANAGER_URL", "https://127.0.0.1:9/user-manager/")
    assert Context(home).service_url("user-manager") == "https://127.0.0.1:9/user-manager"


def test_https_is_verified_against_the_certificate_flightctl_made(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert Context(home).verify("https://127.0.0.1:1") is True  # no certificate yet: system CAs
    make_self_signed(home.path("certs"))
    verify = Context(home).verify("https://127.0.0.1:1")
    assert isinstance(verify, ssl.SSLContext) and verify.verify_mode == ssl.CERT_REQUIRED
    assert any("flightctl local" in str(c.get("subject")) for c in verify.get_ca_certs())
    assert Context(home).verify("http://127.0.0.1:1") is True


def test_context_use_and_show(tmp_path: Path) -> None:
    used = invoke(tmp_path, "context", "use", "kind", "--set-token", "tok-123456789")
    assert used.exit_code == 0, used.output
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
    shown = invoke(tmp_path, "context", "show", "-o", "json", FLIGHTCTL_USER_MANAGER_URL="http://127.0.0.1:9")
    assert shown.exit_code == 0, shown.output
    import json

    data = json.loads(shown.stdout)
    assert (data["context"], data["source"], data["token"]) == ("kind", "config", "tok-…")
    assert data["services"]["user-manager"] == "http://127.0.0.1:9"
    overridden = invoke(tmp_path, "context", "show", "--context", "local", "-o", "json")
    local = json.loads(overridden.stdout)
    assert local["context"] == "local" and local["source"] == "option" and local["token"] is None
    assert local["services"]["user-manager"].startswith("unavailable: no local platform")
    table = invoke(tmp_path, "context", "show")
    assert table.exit_code == 0 and table.stdout.splitlines()[0].split() == ["FIELD", "VALUE"]
    assert invoke(tmp_path, "context", "use", "prod").exit_code == 2


def test_commands_without_a_platform_fail_in_one_line(tmp_path: Path) -> None:
    result = invoke(tmp_path, "users", "list")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no local platform in {tmp_path.resolve()}; start it with `flightctl up --local`"
    ]
    assert result.stdout == ""


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke(tmp_path, "users", "get").exit_code == 2
    assert invoke(tmp_path, "--context", "prod", "users", "list").exit_code == 2
    both = invoke(tmp_path, "users", "telegram", "a@b.it", "123", "--link")
    assert both.exit_code == 2 and "give either CHAT_ID or --link" in both.stderr
    bad_key = invoke(tmp_path, "users", "delete", "a@b.it", "--idempotency-key", "x" * 300)
    assert bad_key.exit_code == 2


def test_completion_scripts_and_completion_itself(tmp_path: Path) -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --command flightctl")):
        result = invoke(tmp_path, "completion", shell)
        assert result.exit_code == 0 and marker in result.stdout and "_FLIGHTCTL_COMPLETE" in result.stdout
    assert invoke(tmp_path, "completion", "tcsh").exit_code == 2
    completed = CliRunner().invoke(
        app,
        [],
        prog_name="flightctl",
        env={"_FLIGHTCTL_COMPLETE": "complete_bash", "COMP_WORDS": "flightctl rep", "COMP_CWORD": "1"},
    )
    assert completed.stdout.split() == ["replay"]


def test_interrupts_and_surprises_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flightctl.cli import doctor

    def interrupted(_obj: object) -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(doctor, "checks", interrupted)
    result = invoke(tmp_path, "doctor")
    assert result.exit_code == 130 and result.stderr.strip().splitlines()[-1] == "interrupted"

    def broken(_obj: object) -> list[object]:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(doctor, "checks", broken)
    result = invoke(tmp_path, "doctor")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: unexpected ZeroDivisionError: division by zero (FLIGHTCTL_DEBUG=1 shows the traceback)"
    )
    assert "Traceback" not in result.stderr
