"""`flightctl backup` of the session's platform, restored into a fresh platform: every user,
interest, alert state and delivery is there. A damaged or mismatched backup is refused with one
line before anything is touched."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from flightctl.local import postgres
from flightctl.platform.layout import Home
from flightctl.platform.proc import wait_until
from tests.conftest import TEST_PORT_BASE, Platform, run_flightctl
from tests.fakes.opensky import make_flight

PORT_BASE = TEST_PORT_BASE + 150  # beside the session's platform, the interrupted-up and e2e tests'
AIRPORT = "LIBP"  # Pescara: no other test watches it


def alert_states(database_url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT user_email, airport_code, live, state, threshold FROM alert_state ORDER BY 1, 2, 3")
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def snapshot(platform: Platform, emails: list[str]) -> dict[str, Any]:
    """What the users would see of their data, and the alert state behind it."""
    seen: dict[str, Any] = {}
    with (
        platform.client("user-manager") as users,
        platform.client("data-collector") as collector,
        platform.client("alert-notifier") as notifier,
    ):
        for email in emails:
            seen[email] = {
                "user": users.get(f"/users/{email}").json(),
                "interests": collector.get(f"/interests/{email}").json(),
                "deliveries": sorted(
                    (d["event_id"], d["status"]) for d in notifier.get("/notifications", params={"email": email}).json()
                ),
            }
    mine = [s for s in alert_states(platform.database_url("alert-system")) if s[0] in emails]
    return {"people": seen, "alert_state": mine}


@pytest.fixture(scope="module")
def fresh(platform: Platform) -> Iterator[Platform]:
    """A second, empty platform (its own home and ports), with the same fakes."""
    home = Path(tempfile.mkdtemp(prefix="flightctl-restore-", dir="/tmp"))
    home.chmod(0o755)
    env = {**platform.env, "FLIGHTCTL_HOME": str(home), "FLIGHTCTL_PORT_BASE": str(PORT_BASE)}
    try:
        run_flightctl(env, "up", "--local", "--timeout", "240", timeout=600)
        status = json.loads(run_flightctl(env, "status", "-o", "json").stdout)
        token = run_flightctl(env, "auth", "token").stdout.strip()
        yield Platform(home, env, status, token, platform.opensky, platform.telegram)
    finally:
        run_flightctl(env, "down", "--local", "--purge", check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def backed_up(platform: Platform) -> Iterator[tuple[Path, list[str], dict[str, Any]]]:
    """Users with interests and a delivered alert each on the session's platform, backed up."""
    day = int(time.time())
    day -= day % 86400 + 36000
    tag = uuid.uuid4().hex[:4]
    platform.opensky.add_flights(
        make_flight(f"b{tag}{n}", day - 7200, day - 3600, departure=AIRPORT, arrival="LIRF") for n in range(2)
    )
    emails = []
    with platform.client("data-collector") as collector:
        for n in range(3):
            email = platform.create_user("backup", chat_id=str(7_000_000_000 + int(tag, 16) * 10 + n))
            assert (
                collector.post(
                    "/interests", json={"email": email, "airport_code": AIRPORT, "high_value": 1}
                ).status_code
                == 201
            )
            assert collector.post("/interests", json={"email": email, "airport_code": "LIRF"}).status_code == 201
            emails.append(email)
        assert collector.post("/collect").status_code == 200
    with platform.client("alert-notifier") as notifier:
        assert wait_until(
            lambda: all(notifier.get("/notifications", params={"email": e}).json() for e in emails), 60
        ), "the alerts were not delivered"
    before = snapshot(platform, emails)
    assert len(before["alert_state"]) == 3 and all(p["deliveries"] for p in before["people"].values())
    directory = Path(tempfile.mkdtemp(prefix="flightctl-backup-", dir="/tmp")) / "backup"
    try:
        shown = json.loads(platform.flightctl("backup", str(directory), "-o", "json").stdout)
        assert shown["directory"] == str(directory)
        yield directory, emails, before
    finally:
        shutil.rmtree(directory.parent, ignore_errors=True)


def test_the_backup_has_a_manifest_of_versions_time_and_checksums(
    backed_up: tuple[Path, list[str], dict[str, Any]],
) -> None:
    directory, _emails, _before = backed_up
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["context"] == "local"
    assert manifest["postgres_version"].split(".")[0] in ("15", "16", "17")
    assert {s: e["database"] for s, e in manifest["databases"].items()} == postgres.DATABASES
    for entry in [*manifest["databases"].values(), manifest["sla_config"]]:
        assert (directory / entry["file"]).stat().st_size == entry["bytes"] > 0
        assert len(entry["sha256"]) == 64
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["manifest.json", "sla-config.json", *(f"{d}.dump" for d in postgres.DATABASES.values())]
    )


def test_a_damaged_or_mismatched_backup_is_refused_with_one_line(
    fresh: Platform, backed_up: tuple[Path, list[str], dict[str, Any]], tmp_path: Path
) -> None:
    directory, emails, _before = backed_up
    damaged = tmp_path / "damaged"
    shutil.copytree(directory, damaged)
    dump = damaged / "user_manager.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    refused = fresh.flightctl("restore", str(damaged), "--yes", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0 and "user_manager.dump is damaged" in refused.stderr

    mismatched = tmp_path / "mismatched"
    shutil.copytree(directory, mismatched)
    manifest = json.loads((mismatched / "manifest.json").read_text())
    manifest["postgres_version"] = "99.1"
    (mismatched / "manifest.json").write_text(json.dumps(manifest))
    refused = fresh.flightctl("restore", str(mismatched), "--yes", check=False)
    assert refused.returncode == 1 and refused.stderr.strip().count("\n") == 0
    assert "PostgreSQL 99.1" in refused.stderr

    missing = fresh.flightctl("restore", str(tmp_path / "nothing"), "--yes", check=False)
    assert missing.returncode == 1 and "is not a flightctl backup" in missing.stderr
    with fresh.client("user-manager") as users:  # nothing was touched
        assert users.get(f"/users/{emails[0]}").status_code == 404


def test_a_fresh_platform_restored_from_the_backup_has_every_user_interest_alert_state_and_delivery(
    fresh: Platform, backed_up: tuple[Path, list[str], dict[str, Any]]
) -> None:
    directory, emails, before = backed_up
    with fresh.client("sla-breach-detector") as sla:
        config = sla.get("/sla/config").json()
        changed = {**config, "settings": {**config.get("settings", {}), "t_check": config["settings"]["t_check"] + 5}}
        assert sla.post("/sla/config", json=changed).status_code == 200

    restored = fresh.flightctl("restore", str(directory), "--yes", "-o", "json")
    assert json.loads(restored.stdout)["restored"] == list(postgres.DATABASES.values())

    # The services were not restarted: their pools reconnect to the restored databases.
    assert wait_until(lambda: snapshot_or_none(fresh, emails) == before, 30), snapshot_or_none(fresh, emails)
    with fresh.client("sla-breach-detector") as sla:
        assert sla.get("/sla/config").json() == json.loads((directory / "sla-config.json").read_text())
    state = Home(fresh.home).load_state()
    assert state is not None and os.path.isdir(fresh.home / "postgres")
    # No database of the restore is left beside the restored ones.
    engine = create_engine(postgres.url(state, "postgres"))
    try:
        with engine.connect() as connection:
            names = {row[0] for row in connection.execute(text("SELECT datname FROM pg_database"))}
    finally:
        engine.dispose()
    assert not {n for n in names if n.endswith(("__restore", "__replaced"))}


def snapshot_or_none(platform: Platform, emails: list[str]) -> dict[str, Any] | None:
    try:
        return snapshot(platform, emails)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, DBAPIError):  # a pool still reconnecting
        return None
