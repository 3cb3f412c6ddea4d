"""A private PostgreSQL cluster under $FLIGHTCTL_HOME, one database per service.

PostgreSQL refuses to run as root: as root, every server command runs as the unprivileged
``postgres`` user (runuser), which owns the data directory. Access is password-only
(scram-sha-256) on 127.0.0.1.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from flightctl.errors import FlightctlError, PrerequisiteMissing
from flightctl.platform.layout import Home, State

DATABASES = {
    "user-manager": "user_manager",
    "data-collector": "data_collector",
    "alert-system": "alert_system",
    "alert-notifier": "alert_notifier",
}
SUPERUSER = "flightctl"
PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def bin_path(tool: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / tool
        if candidate.exists():
            return str(candidate)
    found = shutil.which(tool)
    if found:
        return found
    raise PrerequisiteMissing(f"PostgreSQL server binary {tool} not found; install it: apt-get install -y postgresql")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise FlightctlError(f"PostgreSQL: {what} failed: {' | '.join(detail)}")


def data_dir(home: Home) -> Path:
    return home.path("postgres", "data")


def url(state: State, database: str) -> str:
    return f"postgresql+psycopg://{SUPERUSER}:{state.postgres_password}@127.0.0.1:{state.ports.postgres}/{database}"


def _hand_over(path: Path) -> None:
    """As root, give a path to the postgres user and make sure it can reach it."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam("postgres")
    os.chown(path, entry.pw_uid, entry.pw_gid)
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(path)], check=False)
    if probe.returncode != 0:
        raise FlightctlError(
            f"the postgres user cannot reach {path}; every parent directory of FLIGHTCTL_HOME must be "
            "traversable by other users (chmod o+x), or set FLIGHTCTL_HOME to such a place"
        )


def init(home: Home, state: State) -> bool:
    """initdb once; returns True when the cluster was created now."""
    directory = data_dir(home)
    if (directory / "PG_VERSION").exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _hand_over(directory.parent)
    _hand_over(directory)
    password_file = home.path("postgres", "pwfile")
    password_file.write_text(state.postgres_password + "\n")
    password_file.chmod(0o600)
    _hand_over(password_file)
    try:
        _run(
            [
                bin_path("initdb"),
                "-D",
                str(directory),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
    finally:
        password_file.unlink(missing_ok=True)
    with (directory / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# flightctl local platform\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{directory}'\n"
            "max_connections = 200\n"
            "shared_buffers = 128MB\n"
            "fsync = on\n"
            "logging_collector = off\n"
        )
    return True


def running(home: Home) -> bool:
    pid_file = data_dir(home) / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    from flightctl.platform.proc import alive

    return alive(pid, "postgres")


def start(home: Home, state: State) -> None:
    if running(home):
        return
    log = home.log_file("postgres")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    _hand_over(log)
    _run(
        [
            bin_path("pg_ctl"),
            "-D",
            str(data_dir(home)),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {state.ports.postgres}",
            "start",
        ],
        "start",
    )


def stop(home: Home) -> bool:
    if not running(home):
        return False
    _run([bin_path("pg_ctl"), "-D", str(data_dir(home)), "-m", "fast", "-w", "-t", "60", "stop"], "stop")
    return True


def create_databases(state: State) -> None:
    import psycopg

    conninfo = psycopg.conninfo.make_conninfo(
        host="127.0.0.1",
        port=state.ports.postgres,
        user=SUPERUSER,
        password=state.postgres_password,
        dbname="postgres",
        connect_timeout=5,
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for name in DATABASES.values():
            if name not in existing:
                connection.execute(f'CREATE DATABASE "{name}"')
