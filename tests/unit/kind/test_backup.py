"""`flightctl backup` / `restore` on a cluster, planned with a RecordingRunner: the kubectl exec
commands into the PostgreSQL pod, in order, what travels over them, and that a failed restore
swaps nothing in and drops what it had restored beside the running databases."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from flightctl.errors import FlightctlError
from flightctl.kind.platform import KindPlatform
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.local.postgres import DATABASES
from flightctl.platform import backup
from flightctl.platform.layout import Home

EXEC = ("kubectl", "--context", "kind-flightctl", "-n", "flightctl", "exec")
POD = ["statefulset/postgres", "-c", "postgres", "--", "bash", "-o", "pipefail", "-euc"]
SLA = {"metrics": [{"name": "p99", "query": "up", "max": 1}], "settings": {"t_check": 60}}


def dump_of(database: str) -> bytes:
    return b"PGDMP" + database.encode() * 50


def server(home: Home, runner: RecordingRunner) -> backup.Server:
    return KindPlatform(home, runner, lambda _m: None).database_server()  # type: ignore[arg-type]


def scripted(runner: RecordingRunner) -> None:
    runner.script[EXEC] = Completed(0)
    runner.script[(*EXEC, *POD)] = Completed(0)
    for database in DATABASES.values():
        script = f'pg_dump -U "$POSTGRES_USER" -Fc {database} | base64 -w0'
        runner.script[(*EXEC, *POD, script)] = Completed(0, base64.b64encode(dump_of(database)).decode())
    version = "psql -v ON_ERROR_STOP=1 --no-psqlrc -U \"$POSTGRES_USER\" -d postgres -tAc 'SHOW server_version'"
    runner.script[(*EXEC, *POD, version)] = Completed(0, "15.13\n")


def backed_up(home: Home, runner: RecordingRunner, directory: Path) -> tuple[backup.Server, dict[str, Any]]:
    """A checked backup in ``directory`` from the scripted pod, and the runner's record emptied
    (what a restore runs then starts from nothing)."""
    scripted(runner)
    pod = server(home, runner)
    backup.backup(pod, DATABASES, SLA, directory, version="0.1.0")
    manifest = backup.check(directory, DATABASES, "15.13", None)
    runner.calls.clear()
    runner.inputs.clear()
    return pod, manifest


def test_backup_execs_pg_dump_in_the_pod_and_writes_the_dumps_it_sent(
    home: Home, runner: RecordingRunner, tmp_path: Path
) -> None:
    scripted(runner)
    manifest = backup.backup(server(home, runner), DATABASES, SLA, tmp_path / "b", version="0.1.0")

    commands = runner.commands()
    assert all(
        c.startswith("kubectl --context kind-flightctl -n flightctl exec statefulset/postgres") for c in commands
    )
    assert "SHOW server_version" in commands[0]
    assert [c.split("-Fc ")[1].split(" |")[0] for c in commands[1:]] == list(DATABASES.values())
    assert manifest["context"] == "kind" and manifest["postgres_version"] == "15.13"
    for service, database in DATABASES.items():
        assert (tmp_path / "b" / f"{database}.dump").read_bytes() == dump_of(database)
        assert manifest["databases"][service]["sha256"] == backup.sha256(tmp_path / "b" / f"{database}.dump")
    assert json.loads((tmp_path / "b" / "sla-config.json").read_text()) == SLA


def test_restore_restores_beside_then_swaps_each_database_in_with_its_own_role(
    home: Home, runner: RecordingRunner, tmp_path: Path
) -> None:
    pod, manifest = backed_up(home, runner, tmp_path / "b")
    posted: list[object] = []

    assert backup.restore(pod, DATABASES, tmp_path / "b", manifest, posted.append) == list(DATABASES.values())

    commands = runner.commands()
    assert len(commands) == 8
    for index, database in enumerate(DATABASES.values()):
        script = commands[index]
        assert " exec -i statefulset/postgres" in script
        assert f'CREATE DATABASE "{database}__restore" OWNER "{database}"' in script
        assert f'REVOKE ALL ON DATABASE "{database}__restore" FROM PUBLIC' in script
        assert f'pg_restore -U "$POSTGRES_USER" -d {database}__restore --no-owner --role={database}' in script
        assert "--single-transaction" in script and "--exit-on-error" in script
        assert base64.b64decode(runner.inputs[index] or "") == dump_of(database)
    for offset, database in enumerate(DATABASES.values()):
        swap = commands[4 + offset]
        assert (
            swap.index("ALLOW_CONNECTIONS false")
            < swap.index("pg_terminate_backend")
            < swap.index(f'RENAME TO "{database}__replaced"')
            < swap.index(f'ALTER DATABASE "{database}__restore" RENAME TO "{database}"')
        )
    assert posted == [SLA]


def test_a_failed_restore_swaps_nothing_and_drops_what_it_restored(
    home: Home, runner: RecordingRunner, tmp_path: Path
) -> None:
    pod, manifest = backed_up(home, runner, tmp_path / "b")
    runner.script[(*EXEC, "-i")] = [Completed(0), Completed(0), Completed(1, "", "pg_restore: error: out of disk")]

    with pytest.raises(FlightctlError, match="restoring alert_system failed: pg_restore: error: out of disk"):
        backup.restore(pod, DATABASES, tmp_path / "b", manifest, lambda _c: pytest.fail("SLA posted"))

    commands = runner.commands()
    assert len(commands) == 4 and not any("RENAME" in c for c in commands)
    assert 'DROP DATABASE IF EXISTS "user_manager__restore"' in commands[-1]
    assert 'DROP DATABASE IF EXISTS "data_collector__restore"' in commands[-1]


def test_check_refuses_a_damaged_a_newer_or_a_foreign_backup_with_one_line(
    home: Home, runner: RecordingRunner, tmp_path: Path
) -> None:
    scripted(runner)
    backup.backup(server(home, runner), DATABASES, SLA, tmp_path / "b", version="0.1.0")
    with pytest.raises(FlightctlError, match="is older"):
        backup.check(tmp_path / "b", DATABASES, "14.9", None)
    with pytest.raises(FlightctlError, match="holds the databases of"):
        backup.check(tmp_path / "b", {"user-manager": "user_manager"}, "15.13", None)
    (tmp_path / "b" / "sla-config.json").write_text("{}")
    with pytest.raises(FlightctlError, match=r"sla-config\.json is damaged") as refused:
        backup.check(tmp_path / "b", DATABASES, "15.13", None)
    assert "\n" not in str(refused.value)
    (tmp_path / "b" / "manifest.json").write_text("{")
    with pytest.raises(FlightctlError, match=r"manifest\.json is damaged"):
        backup.check(tmp_path / "b", DATABASES, "15.13", None)


def test_backup_refuses_a_directory_that_is_not_empty_and_leaves_none_half_written(
    home: Home, runner: RecordingRunner, tmp_path: Path
) -> None:
    scripted(runner)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FlightctlError, match="is not empty"):
        backup.backup(server(home, runner), DATABASES, SLA, tmp_path / "full", version="0.1.0")
    runner.script[(*EXEC, *POD, 'pg_dump -U "$POSTGRES_USER" -Fc alert_system | base64 -w0')] = Completed(
        1, "", "pg_dump: error: connection failed"
    )
    with pytest.raises(FlightctlError, match="pg_dump of alert_system failed"):
        backup.backup(server(home, runner), DATABASES, SLA, tmp_path / "new", version="0.1.0")
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".new*"))
