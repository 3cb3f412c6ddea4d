from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flightctl import deploy
from flightctl.errors import UsageError
from flightctl.kind import secrets


def test_environment_wins_over_dotenv_over_stored_values(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_TOKEN=from-dotenv\nTELEGRAM_BOT_TOKEN='bot:token'\nPOSTGRES_PASSWORD=dot\n")
    values = secrets.resolve(
        {"API_TOKEN": "from-env", "OPENSKY_CLIENT_ID": ""},
        tmp_path,
        {"POSTGRES_PASSWORD": "stored", "USER_MANAGER_DB_PASSWORD": "kept"},
    )
    assert values["API_TOKEN"] == "from-env"
    assert values["POSTGRES_PASSWORD"] == "dot"
    assert values["USER_MANAGER_DB_PASSWORD"] == "kept"
    assert values["TELEGRAM_BOT_TOKEN"] == "bot:token"
    assert "OPENSKY_CLIENT_ID" not in values, "an empty optional value is left out, not set empty"
    assert set(secrets.REQUIRED) <= set(values)


def test_generated_values_are_url_safe_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "kind" / "secrets.env"
    first = secrets.resolve({}, tmp_path, secrets.read(path))
    for key in secrets.REQUIRED:
        assert len(first[key]) >= 48 and all(c in "0123456789abcdef" for c in first[key])
    secrets.write(path, first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.resolve({}, tmp_path, secrets.read(path)) == first


def test_a_multi_line_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="TELEGRAM_BOT_TOKEN must be a single line"):
        secrets.resolve({"TELEGRAM_BOT_TOKEN": "a\nb"}, tmp_path, {})


def test_the_keys_are_the_documented_ones() -> None:
    import yaml

    example = deploy.path("kubernetes", "secrets.example.yaml")
    documented = next(
        d for d in yaml.safe_load_all(example.read_text()) if d["metadata"]["name"] == "flightctl-secrets"
    )
    assert set(documented["stringData"]) == {*secrets.REQUIRED, *secrets.OPTIONAL}


def test_settings_are_the_non_secret_variables_set_in_the_environment_or_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("COLLECT_INTERVAL_SECONDS=60\nALERT_REPEAT_SECONDS=0\nTELEGRAM_BOT_TOKEN=bot:t\n")
    environ = {"COLLECT_INTERVAL_SECONDS": "120", "OPENSKY_CLIENT_SECRET": "s", "UNRELATED": "x", "LOG_LEVEL": ""}
    assert secrets.settings(environ, tmp_path) == {"COLLECT_INTERVAL_SECONDS": "120", "ALERT_REPEAT_SECONDS": "0"}
    assert secrets.settings({}, tmp_path / "nowhere") == {}
    with pytest.raises(UsageError, match="ADMIN_EMAIL"):
        secrets.settings({"ADMIN_EMAIL": "a@b\nc"}, tmp_path)
