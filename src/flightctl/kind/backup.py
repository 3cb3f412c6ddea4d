"""A cluster's PostgreSQL pod as a backup source and restore target
(flightctl.platform.backup.Server): every command is ``kubectl exec`` into ``statefulset/postgres``
(container ``postgres``) as the image's superuser over the pod's local socket. Dumps travel as
base64 text on the exec's stdout and stdin, so nothing is written inside the pod (its root
filesystem is read-only). Each service database is restored owned by its own role (the role of
the same name, as ``create-databases.sh`` made it) and closed to PUBLIC again."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable
from pathlib import Path

from flightctl.errors import FlightctlError
from flightctl.kind.runner import Completed, Runner

POD = "statefulset/postgres"
CONTAINER = "postgres"
PSQL = 'psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d postgres'


class PodServer:
    def __init__(self, context: str, runner: Runner, kubectl: Callable[..., list[str]], namespace: str) -> None:
        self.context = context
        self.runner = runner
        self.kubectl = kubectl
        self.namespace = namespace

    def _exec(self, script: str, what: str, *, input: str | None = None) -> Completed:
        command = self.kubectl(
            "exec",
            *(["-i"] if input is not None else []),
            POD,
            "-c",
            CONTAINER,
            "--",
            "bash",
            "-o",
            "pipefail",
            "-euc",
            script,
            namespace=self.namespace,
        )
        result = self.runner.run(command, input=input)
        if not result.ok:
            text = (result.stderr or result.stdout or "").strip().splitlines()
            raise FlightctlError(f"{what} failed: " + (text[-1] if text else f"exit {result.returncode}"))
        return result

    @staticmethod
    def _psql(*statements: str) -> str:
        return PSQL + "".join(f" -c {shlex.quote(s)}" for s in statements)

    def server_version(self) -> str:
        return self._exec(PSQL + " -tAc 'SHOW server_version'", "reading the PostgreSQL version").stdout.strip()

    def dump(self, database: str, target: Path) -> None:
        script = f'pg_dump -U "$POSTGRES_USER" -Fc {shlex.quote(database)} | base64 -w0'
        encoded = self._exec(script, f"pg_dump of {database}").stdout.strip()
        try:
            target.write_bytes(base64.b64decode(encoded, validate=True))
        except ValueError:
            raise FlightctlError(f"pg_dump of {database}: the pod's answer is not base64") from None

    def restore_into(self, database: str, new: str, dump: Path) -> None:
        prepare = self._psql(
            f'DROP DATABASE IF EXISTS "{new}"',
            f'CREATE DATABASE "{new}" OWNER "{database}"',
            f'REVOKE ALL ON DATABASE "{new}" FROM PUBLIC',
        )
        restore = (
            f'base64 -d | pg_restore -U "$POSTGRES_USER" -d {shlex.quote(new)} --no-owner'
            f" --role={shlex.quote(database)} --exit-on-error --single-transaction"
        )
        drop = self._psql(f'DROP DATABASE IF EXISTS "{new}"')
        script = f"{prepare}\nif ! {restore}; then {drop}; exit 1; fi"
        self._exec(script, f"restoring {database}", input=base64.b64encode(dump.read_bytes()).decode())

    def execute(self, statements: list[str]) -> None:
        if statements:
            self._exec(self._psql(*statements), "PostgreSQL")
