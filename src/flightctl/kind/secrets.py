"""The values of the Secret flightctl-secrets and of the ConfigMap flightctl-settings.

Their keys are derived from the services' settings (``flightctl.config``): the Secret holds the
values that always exist (the API token, the database passwords: taken from the environment,
else ./.env, else what flightctl generated on an earlier run, else generated now) and the
operator's secret settings that are set; the ConfigMap holds the operator's non-secret settings
that are set. Both are kept in $FLIGHTCTL_HOME/kind/ (mode 0600), from which kubectl reads them
(--from-env-file), so no value ever appears on a command line or in the output. Generated values
are reused: PostgreSQL reads the database passwords only when it initialises its volume, so they
must not change while the cluster's volumes live.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from flightctl import config
from flightctl.config import read_dotenv
from flightctl.errors import UsageError

REQUIRED = config.GENERATED_SECRETS
OPTIONAL = config.OPTIONAL_SECRETS


def _single_line(key: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise UsageError(f"{key} must be a single line")
    return value


def settings(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The services' non-secret settings that are set in the environment or ./.env (the same
    variables `flightctl up --local` passes through, e.g. COLLECT_INTERVAL_SECONDS): the values
    of the ConfigMap flightctl-settings. Secrets are never among them."""
    allowed = set(config.configmap_keys())
    return {k: _single_line(k, v) for k, v in config.configuration(environ, cwd).items() if k in allowed}


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
            values[key] = _single_line(key, value)
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
