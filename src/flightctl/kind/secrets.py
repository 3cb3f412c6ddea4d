"""The values of the Secret flightctl-secrets (keys: kubernetes/secrets.example.yaml).

Taken from the environment, else ./.env, else what flightctl generated on an earlier run, else
generated now; kept in $FLIGHTCTL_HOME/kind/secrets.env (mode 0600), from which kubectl
reads them (--from-env-file), so no value ever appears on a command line or in the output.
Generated values are reused: PostgreSQL reads the database passwords only when it initialises
its volume, so they must not change while the cluster's volumes live.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from flightctl.errors import UsageError
from flightctl.local.services import read_dotenv

REQUIRED = (
    "API_TOKEN",
    "POSTGRES_PASSWORD",
    "USER_MANAGER_DB_PASSWORD",
    "DATA_COLLECTOR_DB_PASSWORD",
    "ALERT_SYSTEM_DB_PASSWORD",
    "ALERT_NOTIFIER_DB_PASSWORD",
)
OPTIONAL = ("OPENSKY_CLIENT_ID", "OPENSKY_CLIENT_SECRET", "TELEGRAM_BOT_TOKEN")


def settings(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The services' non-secret settings that are set in the environment or ./.env (the same
    variables `flightctl up --local` passes through, e.g. COLLECT_INTERVAL_SECONDS): the values
    of the ConfigMap flightctl-settings. Secrets are never among them."""
    from flightctl.local.services import CONFIG_VARIABLES

    dotenv = read_dotenv(cwd / ".env")
    values: dict[str, str] = {}
    for key in CONFIG_VARIABLES:
        if key in OPTIONAL or key in REQUIRED:
            continue
        value = environ.get(key) or dotenv.get(key)
        if value:
            if "\n" in value or "\r" in value:
                raise UsageError(f"{key} must be a single line")
            values[key] = value
    return values


def _generate(key: str) -> str:
    # Hex: URL-safe, as DATABASE_URL needs.
    return secrets.token_hex(32 if key == "API_TOKEN" else 24)


def read(path: Path) -> dict[str, str]:
    return read_dotenv(path)


def resolve(environ: Mapping[str, str], cwd: Path, stored: Mapping[str, str]) -> dict[str, str]:
    """Every required key and the optional ones that are set (an empty value counts as unset)."""
    dotenv = read_dotenv(cwd / ".env")
    values: dict[str, str] = {}
    for key in (*REQUIRED, *OPTIONAL):
        value = environ.get(key) or dotenv.get(key) or stored.get(key)
        if not value and key in REQUIRED:
            value = _generate(key)
        if value:
            if "\n" in value or "\r" in value:
                raise UsageError(f"{key} must be a single line")
            values[key] = value
    return values


def write(path: Path, values: Mapping[str, str]) -> None:
    """Atomically, created 0600 before any value is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    tmp.replace(path)
