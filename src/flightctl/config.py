"""The platform's configuration, derived from the services' settings classes.

Each service's ``Settings`` (``flightctl/services/<service>/settings.py``) is the only list of
the environment variables it reads: each field declares its variable, default, help, whether it
is secret and who sets it (:class:`SetBy`). Everything else is derived here:

- :func:`catalogue`: every variable once, with the services that read it;
- :func:`configuration`: the operator's values, from the environment or ./.env;
- :func:`passed_through` and :func:`filled_by_flightctl`: what `flightctl up --local` gives a
  service (the local values themselves are in ``flightctl.local.services``);
- :func:`configmap_keys`, :data:`GENERATED_SECRETS`, :data:`OPTIONAL_SECRETS`: the Kubernetes split
  between the ConfigMap ``flightctl-settings`` and the Secret ``flightctl-secrets``;
- :func:`render_markdown`: docs/configuration.md (``scripts/gen_config_doc.py``).

Importing this module imports only the light settings modules (no Flask, SQLAlchemy or Kafka).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flightctl.services.alert_notifier.settings import Settings as AlertNotifierSettings
from flightctl.services.alert_system.settings import Settings as AlertSystemSettings
from flightctl.services.common.settings import BaseSettings, SetBy
from flightctl.services.data_collector.settings import Settings as DataCollectorSettings
from flightctl.services.sla_breach_detector.settings import Settings as SlaBreachDetectorSettings
from flightctl.services.user_manager.settings import Settings as UserManagerSettings

__all__ = [
    "CLUSTER_SECRETS",
    "DOC_PATH",
    "GENERATED_SECRETS",
    "OPTIONAL_SECRETS",
    "SETTINGS",
    "SetBy",
    "Variable",
    "catalogue",
    "configmap_keys",
    "configuration",
    "database_password_key",
    "filled_by_flightctl",
    "operator_variables",
    "passed_through",
    "read_dotenv",
    "render_markdown",
]

SETTINGS: dict[str, type[BaseSettings]] = {
    cls.SERVICE: cls
    for cls in (
        UserManagerSettings,
        DataCollectorSettings,
        AlertSystemSettings,
        AlertNotifierSettings,
        SlaBreachDetectorSettings,
    )
}
"""Each service's settings class, by service name, in the platform's order."""


@dataclasses.dataclass(frozen=True)
class Variable:
    """One environment variable of the platform."""

    name: str
    services: tuple[str, ...]
    help: str
    secret: bool
    set_by: SetBy
    required: bool
    default: Any = None
    """The value a service uses when the variable is unset (None: unset means off or absent)."""

    @property
    def default_text(self) -> str:
        if self.required:
            return "required"
        value = self.default
        if value is None:
            return "unset"
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        if isinstance(value, float) and value.is_integer():
            return f"`{int(value)}`"
        return f"`{value}`"


@functools.cache
def catalogue() -> dict[str, Variable]:
    """Every variable, by name (sorted), each from its one declaration. A variable that two
    services read must come from one field (a shared mixin in services/common/settings.py):
    two declarations of one name are an error, so their defaults or help cannot drift apart."""
    fields: dict[str, dataclasses.Field[Any]] = {}
    users: dict[str, list[str]] = {}
    for service, cls in SETTINGS.items():
        for field in dataclasses.fields(cls):
            name = field.metadata["var"]
            if name in fields and fields[name] is not field:
                raise ValueError(f"{name} is declared twice; declare it once in a mixin both services use")
            fields[name] = field
            users.setdefault(name, []).append(service)
    variables: dict[str, Variable] = {}
    for name in sorted(fields):
        field = fields[name]
        required = field.default is dataclasses.MISSING
        variables[name] = Variable(
            name=name,
            services=tuple(users[name]),
            help=field.metadata["help"],
            secret=field.metadata["secret"],
            set_by=field.metadata["set_by"],
            required=required,
            default=None if required else field.default,
        )
    return variables


def _of(service: str, set_by: SetBy) -> tuple[str, ...]:
    if service not in SETTINGS:
        raise KeyError(f"unknown service {service}; choose from {', '.join(SETTINGS)}")
    return tuple(v.name for v in catalogue().values() if service in v.services and v.set_by is set_by)


def passed_through(service: str) -> tuple[str, ...]:
    """The operator's variables that flightctl passes to ``service`` (when they are set)."""
    return _of(service, SetBy.OPERATOR)


def filled_by_flightctl(service: str) -> tuple[str, ...]:
    """The variables flightctl itself sets for ``service`` (connections, addresses, paths, token)."""
    return _of(service, SetBy.FLIGHTCTL)


def operator_variables() -> tuple[str, ...]:
    """Every variable the operator sets, whichever service reads it."""
    return tuple(v.name for v in catalogue().values() if v.set_by is SetBy.OPERATOR)


# -- the operator's values ----------------------------------------------------------------------


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; optional quotes stripped."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def configuration(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The operator's settings that are set: the environment wins over ./.env, an empty value
    counts as unset, variables that no service reads are left out."""
    dotenv = read_dotenv(cwd / ".env")
    values: dict[str, str] = {}
    for name in operator_variables():
        value = environ.get(name) or dotenv.get(name)
        if value:
            values[name] = value
    return values


# -- Kubernetes ---------------------------------------------------------------------------------


def database_password_key(service: str) -> str:
    """The Secret key of the password of ``service``'s database role (user-manager:
    USER_MANAGER_DB_PASSWORD); the manifests build DATABASE_URL from it."""
    return service.upper().replace("-", "_") + "_DB_PASSWORD"


CLUSTER_SECRETS: dict[str, str] = {
    "POSTGRES_PASSWORD": "PostgreSQL's superuser password; only PostgreSQL uses it.",
    **{
        database_password_key(s): f"Password of {s}'s database role; its manifest builds DATABASE_URL from it."
        for s in SETTINGS
        if s in catalogue()["DATABASE_URL"].services
    },
}
"""Values of the cluster itself, not settings of a service, with what they are: PostgreSQL's
superuser password and one password per service database (PostgreSQL reads them when it
initialises its volume, so they must not change while the volume lives)."""

GENERATED_SECRETS = (
    *(v.name for v in catalogue().values() if v.secret and v.set_by is SetBy.FLIGHTCTL),
    *CLUSTER_SECRETS,
)
"""Keys of the Secret flightctl-secrets that always have a value: taken from the environment or
./.env when set there, else generated by flightctl (and kept for the next `up`)."""

OPTIONAL_SECRETS = tuple(v.name for v in catalogue().values() if v.secret and v.set_by is SetBy.OPERATOR)
"""Keys of the Secret flightctl-secrets that are there only when the operator sets them."""


def configmap_keys() -> tuple[str, ...]:
    """The keys the ConfigMap flightctl-settings may hold: the operator's non-secret settings
    (every service reads it whole, through envFrom; each takes the variables it declares)."""
    return tuple(v.name for v in catalogue().values() if v.set_by is SetBy.OPERATOR and not v.secret)


# -- docs/configuration.md ----------------------------------------------------------------------

DOC_PATH = ("docs", "configuration.md")
"""Where the rendered catalogue lives, relative to the repository root."""


def _used_by(variable: Variable) -> str:
    if len(variable.services) == len(SETTINGS):
        return "all"
    return ", ".join(variable.services)


def _table(variables: list[Variable]) -> list[str]:
    lines = ["| variable | used by | default | what |", "|---|---|---|---|"]
    for v in variables:
        what = v.help.replace("|", "\\|")
        if v.secret:
            what = "**Secret.** " + what
        lines.append(f"| `{v.name}` | {_used_by(v)} | {v.default_text} | {what} |")
    return lines


def render_markdown() -> str:
    """docs/configuration.md: the catalogue as the operator reads it."""
    variables = list(catalogue().values())

    def of(set_by: SetBy) -> list[Variable]:
        return [v for v in variables if v.set_by is set_by]

    def help_of(key: str) -> str:
        return CLUSTER_SECRETS[key] if key in CLUSTER_SECRETS else catalogue()[key].help

    lines = [
        "<!-- Generated by scripts/gen_config_doc.py from the services' settings classes. Do not edit. -->",
        "",
        "# Configuration",
        "",
        "Every service reads its settings once, at start, from environment variables; a missing or",
        "malformed value stops it with one line naming the variable, and the settings it started",
        "with are logged (secrets masked). Each service's settings class",
        "(`src/flightctl/services/<service>/settings.py`) is the only list of its variables: this",
        "page, what `flightctl up` passes to each service and the keys of the Kubernetes ConfigMap",
        "and Secret are derived from those classes (`flightctl.config`).",
        "",
        "## Set by you",
        "",
        "Set these in the environment, or in a `.env` file in the directory where you run",
        "`flightctl` (the environment wins; an empty value counts as unset). `flightctl up --local`",
        "passes each one to the services that read it, and restarts a service whose values",
        "changed. `flightctl up --kind` puts the non-secret ones in the ConfigMap",
        "`flightctl-settings` and the secret ones in the Secret `flightctl-secrets`.",
        "",
        *_table(of(SetBy.OPERATOR)),
        "",
        "## Set by flightctl",
        "",
        "flightctl fills these itself: locally in each process's environment (addresses on",
        "127.0.0.1, ports from the port base, paths under `$FLIGHTCTL_HOME`), on Kubernetes in",
        "the manifests. The default is what a service started by hand uses when one is unset.",
        "",
        *_table(of(SetBy.FLIGHTCTL)),
        "",
        "## Only for a process you start yourself",
        "",
        "flightctl never passes these on; set them in the environment of `flightctl serve SERVICE`",
        "or `python -m flightctl.services.<service>` (the tests do).",
        "",
        *_table(of(SetBy.PROCESS)),
        "",
        "## On Kubernetes",
        "",
        "The ConfigMap `flightctl-settings` holds the variables of *Set by you* that are set and",
        "not secret: every service reads it whole (envFrom) and takes the ones it declares; a",
        "value its manifest sets itself (`LOG_FORMAT=json`) wins. The Secret `flightctl-secrets`",
        "(layout: `secrets.example.yaml` beside the manifests) holds these keys, from the",
        "environment or `.env`; those present *always* are otherwise generated by flightctl, kept",
        "in `$FLIGHTCTL_HOME/kind/secrets.env` and reused:",
        "",
        "| key | present | what |",
        "|---|---|---|",
        *(f"| `{k}` | always | {help_of(k)} |" for k in GENERATED_SECRETS),
        *(f"| `{k}` | when set | {help_of(k)} |" for k in OPTIONAL_SECRETS),
        "",
    ]
    return "\n".join(lines)
