"""flightctl.config: the catalogue derived from the services' settings classes, and everything
derived from it (the local environments, the Kubernetes split, docs/configuration.md) agreeing
with those classes, so that a variable is declared once and nothing can drift."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flightctl import config, deploy
from flightctl.config import SETTINGS, SetBy, catalogue
from flightctl.kind import secrets
from flightctl.local import services
from flightctl.platform.layout import SERVICES, Home, State

ROOT = Path(__file__).resolve().parents[2]


def test_the_settings_classes_are_the_platforms_services() -> None:
    assert tuple(SETTINGS) == SERVICES
    for service, cls in SETTINGS.items():
        assert service == cls.SERVICE
        assert cls.__module__ == f"flightctl.services.{service.replace('-', '_')}.settings"


def test_every_variable_is_declared_once_with_a_meaningful_help() -> None:
    variables = catalogue()
    for service, cls in SETTINGS.items():
        for field in dataclasses.fields(cls):
            variable = variables[field.metadata["var"]]
            assert service in variable.services
            assert len(variable.help) >= 20 and variable.help[0].isupper() and variable.help.endswith("."), (
                variable.name,
                variable.help,
            )
    # A variable read by several services has one declaration (a shared mixin): the same field.
    for variable in variables.values():
        declared = {
            id(f)
            for s in variable.services
            for f in dataclasses.fields(SETTINGS[s])
            if f.metadata["var"] == variable.name
        }
        assert len(declared) == 1, f"{variable.name} is declared more than once"


def test_flightctl_sets_every_required_variable_and_keeps_secrets_to_itself_or_the_operator() -> None:
    for variable in catalogue().values():
        if variable.required:
            assert variable.set_by is SetBy.FLIGHTCTL, f"{variable.name} is required: flightctl must set it"
        if variable.set_by is SetBy.PROCESS:
            assert not variable.secret


def test_the_kubernetes_split() -> None:
    operator = {v.name for v in catalogue().values() if v.set_by is SetBy.OPERATOR}
    configmap, optional = set(config.configmap_keys()), set(config.OPTIONAL_SECRETS)
    assert configmap | optional == operator and not configmap & optional
    assert optional == {"OPENSKY_CLIENT_ID", "OPENSKY_CLIENT_SECRET", "TELEGRAM_BOT_TOKEN"}
    assert config.GENERATED_SECRETS == (
        "API_TOKEN",
        "POSTGRES_PASSWORD",
        "USER_MANAGER_DB_PASSWORD",
        "DATA_COLLECTOR_DB_PASSWORD",
        "ALERT_SYSTEM_DB_PASSWORD",
        "ALERT_NOTIFIER_DB_PASSWORD",
    )
    assert secrets.REQUIRED == config.GENERATED_SECRETS and secrets.OPTIONAL == config.OPTIONAL_SECRETS


def test_the_secret_example_lists_exactly_the_derived_keys() -> None:
    example = deploy.path("kubernetes", "secrets.example.yaml")
    documented = next(
        d for d in yaml.safe_load_all(example.read_text()) if d["metadata"]["name"] == "flightctl-secrets"
    )
    assert list(documented["stringData"]) == [*config.GENERATED_SECRETS, *config.OPTIONAL_SECRETS]


def test_configuration_takes_the_environment_over_dotenv_and_only_operator_variables(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "COLLECT_INTERVAL_SECONDS=60\nexport LOG_LEVEL='DEBUG'\nDATABASE_URL=postgresql://x\nADMIN_EMAIL=a@b.c\n"
    )
    environ = {"COLLECT_INTERVAL_SECONDS": "120", "ADMIN_EMAIL": "", "HTTP_PORT": "1", "UNRELATED": "x"}
    assert config.configuration(environ, tmp_path) == {
        "ADMIN_EMAIL": "a@b.c",  # an empty value counts as unset
        "COLLECT_INTERVAL_SECONDS": "120",
        "LOG_LEVEL": "DEBUG",
    }


def _state() -> State:
    return State(port_base=23400, api_token="tok", postgres_password="pw", kafka_cluster_id="c")


def _every_operator_value() -> dict[str, str]:
    """A value for every operator variable that each service accepts (defaults, as text)."""
    values = {}
    for variable in catalogue().values():
        if variable.set_by is SetBy.OPERATOR:
            default = variable.default
            values[variable.name] = str(default).lower() if isinstance(default, bool) else str(default)
    values.update(
        OPENSKY_CLIENT_ID="id", OPENSKY_CLIENT_SECRET="s", TELEGRAM_BOT_TOKEN="1:abc", OPENSKY_CREDITS_PER_DAY="4000"
    )
    return values


@pytest.mark.parametrize("service", SERVICES)
def test_the_local_environment_is_exactly_what_flightctl_fills_and_the_operator_values_the_service_reads(
    service: str, tmp_path: Path
) -> None:
    given = _every_operator_value()
    env = services.environment(service, Home(tmp_path), _state(), given)
    process = {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED"}
    assert set(env) == process | set(config.filled_by_flightctl(service)) | set(config.passed_through(service))
    assert set(config.passed_through(service)) <= set(given)
    assert all(env[name] == given[name] for name in config.passed_through(service))
    # and the service starts with it: every value parses
    settings = SETTINGS[service].from_env(env)
    assert settings.http_host == "127.0.0.1" and settings.api_token == "tok"
    # an operator value the service does not read is not passed
    other = {"ALERT_REPEAT_SECONDS": "5"} if service != "alert-system" else {"COLLECT_POOL_SIZE": "2"}
    assert not set(other) & set(services.environment(service, Home(tmp_path), _state(), other))


def test_the_configuration_document_is_current() -> None:
    document = ROOT.joinpath(*config.DOC_PATH)
    assert document.read_text() == config.render_markdown(), "run: python scripts/gen_config_doc.py"
    for variable in catalogue():
        assert f"`{variable}`" in document.read_text()


def test_the_generator_finds_the_document_current() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_config_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_catalogue_needs_no_service_framework() -> None:
    code = (
        "import sys, flightctl.config\n"
        "heavy = [m for m in ('flask', 'sqlalchemy', 'kafka', 'grpc', 'telegram', 'cheroot') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
