"""The local platform's PostgreSQL as a backup source and restore target
(flightctl.platform.backup.Server): pg_dump and pg_restore of this machine, as the platform's
superuser, over 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from flightctl.errors import FlightctlError
from flightctl.local import postgres
from flightctl.platform.layout import State


class LocalServer:
    context = "local"

    def __init__(self, state: State) -> None:
        self.state = state

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.state.postgres_password}

    def _connection(self, database: str) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.state.ports.postgres), "-U", postgres.SUPERUSER, "-d", database]

    def _run(self, command: list[str], what: str) -> None:
        result = subprocess.run(command, env=self._env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-2:])
            raise FlightctlError(f"{what} failed: {detail}")

    def _connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        try:
            return psycopg.connect(
                host="127.0.0.1",
                port=self.state.ports.postgres,
                user=postgres.SUPERUSER,
                password=self.state.postgres_password,
                dbname="postgres",
                connect_timeout=5,
                autocommit=True,
            )
        except psycopg.OperationalError:
            raise FlightctlError(
                f"PostgreSQL does not answer on 127.0.0.1:{self.state.ports.postgres}; start the platform first"
            ) from None

    def server_version(self) -> str:
        with self._connect() as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else ""

    def dump(self, database: str, target: Path) -> None:
        self._run(
            [postgres.bin_path("pg_dump"), *self._connection(database), "-Fc", "-f", str(target)],
            f"pg_dump of {database}",
        )

    def restore_into(self, database: str, new: str, dump: Path) -> None:
        self.execute([f'DROP DATABASE IF EXISTS "{new}"', f'CREATE DATABASE "{new}"'])
        try:
            self._run(
                [
                    postgres.bin_path("pg_restore"),
                    *self._connection(new),
                    "--no-owner",
                    "--exit-on-error",
                    "--single-transaction",
                    str(dump),
                ],
                f"restoring {database}",
            )
        except FlightctlError:
            self.execute([f'DROP DATABASE IF EXISTS "{new}"'])
            raise

    def execute(self, statements: list[str]) -> None:
        import psycopg

        if not statements:
            return
        with self._connect() as connection:
            for statement in statements:
                try:
                    connection.execute(statement)  # type: ignore[arg-type]
                except psycopg.Error as exc:
                    raise FlightctlError(f"PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
