"""The disk of $FLIGHTCTL_HOME full: a platform of its own on a 1 GiB tmpfs, filled up while
users are being created. Requests that need the disk are refused with a clear error (503 JSON,
never a 500 or a hang), the CLI says what is wrong in one line, nothing already stored is lost
or damaged, and once space returns (and `up --local` starts whatever gave up) the same requests
succeed, each applied once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flightctl.platform.layout import SERVICES
from flightctl.platform.proc import wait_until
from tests.conftest import TEST_PORT_BASE, Platform, run_flightctl
from tests.faults.conftest import Stopwatch

PORT_BASE = TEST_PORT_BASE + 200  # beside the session's platform and the other suites' own
SIZE = "1g"


@pytest.fixture
def small_disk(platform: Platform) -> Iterator[Platform]:
    """A platform whose home is a tmpfs of 1 GiB (this test runs as root, as the suite does)."""
    assert os.geteuid() == 0, "the disk-full fault mounts a tmpfs: run the suite as root"
    mount = Path(tempfile.mkdtemp(prefix="flightctl-full-", dir="/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=755", "tmpfs", str(mount)], check=True)
    env = {**platform.env, "FLIGHTCTL_HOME": str(mount), "FLIGHTCTL_PORT_BASE": str(PORT_BASE)}
    try:
        run_flightctl(env, "up", "--local", "--timeout", "240", timeout=600)
        status = json.loads(run_flightctl(env, "status", "-o", "json").stdout)
        token = run_flightctl(env, "auth", "token").stdout.strip()
        yield Platform(mount, env, status, token, platform.opensky, platform.telegram)
    finally:
        run_flightctl(env, "down", "--local", "--purge", check=False)
        subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


def fill(directory: Path) -> Path:
    """A file that takes every free byte of ``directory``'s filesystem."""
    filler = directory / "filler"
    with filler.open("wb") as out:
        block = b"\0" * (1 << 20)
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass  # no space left: that is the point
    return filler


def new_user(users: httpx.Client, email: str, key: str) -> httpx.Response | None:
    try:
        return users.post(
            "/users",
            json={"email": email, "first_name": "Full", "last_name": "Disk"},
            headers={"Idempotency-Key": key},
        )
    except httpx.HTTPError:
        return None


def test_a_full_disk_is_a_clear_error_and_recovers_once_space_returns(
    small_disk: Platform, results: dict[str, Any]
) -> None:
    platform = small_disk
    stored: list[str] = []
    with platform.client("user-manager") as users:
        for _ in range(20):
            email = f"full-{uuid.uuid4().hex[:10]}@example.com"
            answer = new_user(users, email, str(uuid.uuid4()))
            assert answer is not None and answer.status_code == 201
            stored.append(email)

        filler = fill(platform.home)
        watch = Stopwatch()
        refused: dict[str, Any] = {}

        def refused_once() -> bool:
            """Users are created until one is refused (a page or a WAL segment finally needs space)."""
            email, key = f"full-{uuid.uuid4().hex[:10]}@example.com", str(uuid.uuid4())
            answer = new_user(users, email, key)
            if answer is not None and answer.status_code == 201:
                stored.append(email)
                return False
            refused.update(email=email, key=key, answer=answer)
            return True

        assert wait_until(refused_once, 120, 0.05), "no request was refused with the disk full"
        answer = refused["answer"]
        assert answer is not None, "the request was not answered at all"
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/json") and answer.json()["error"]
        refused_after = watch()

        cli = platform.flightctl("backup", check=False)  # the CLI, too, says what is wrong in one line
        errors = [line for line in cli.stderr.splitlines() if not line.startswith("»")]  # not the progress
        assert cli.returncode == 1 and len(errors) == 1, cli.stderr
        assert errors[0].startswith("error: ") and "No space left on device" in errors[0], cli.stderr
        backups = platform.home / "backups"
        assert not backups.exists() or not any(backups.iterdir()), "a partial backup was left"

        filler.unlink()  # space returns
        watch = Stopwatch()
        run_flightctl(platform.env, "up", "--local", "--timeout", "240", timeout=600)
        assert wait_until(lambda: all(_healthy(platform, s) for s in SERVICES), 120)
        again = new_user(users, refused["email"], refused["key"])  # the client retries with its key
        assert again is not None and again.status_code == 201, again.text if again is not None else None
        recovered_after = watch()
        stored.append(refused["email"])
        for email in stored:  # nothing stored before is lost or damaged
            assert users.get(f"/users/{email}").status_code == 200, email
        retried = new_user(users, refused["email"], refused["key"])
        assert retried is not None and retried.headers.get("Idempotent-Replayed") == "true"  # applied once
    results["disk_full"] = {
        "filesystem": f"tmpfs {SIZE}",
        "users_stored_before_the_first_refusal": len(stored) - 1,
        "first_refusal_after_seconds": refused_after,
        "refusal": {"status": answer.status_code, "body": answer.json()},
        "cli": errors[0],
        "recovered_after_seconds": recovered_after,
    }


def _healthy(platform: Platform, service: str) -> bool:
    try:
        return httpx.get(platform.url(service) + "/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False
