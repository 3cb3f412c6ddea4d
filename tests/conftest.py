"""Session fixtures: fake OpenSky and Telegram servers on 127.0.0.1, and one real local
platform (PostgreSQL, Kafka, Prometheus, NGINX, the five services) brought up by the real
`flightctl up --local` in a private home and port range, taken down (and purged) at the end."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.opensky import FakeOpenSky
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
FLIGHTCTL = [sys.executable, "-m", "flightctl"]
TEST_PORT_BASE = int(os.environ.get("FLIGHTCTL_TEST_PORT_BASE", "19400"))
OPENSKY_ID, OPENSKY_SECRET = "ci-client", "ci-secret"


@dataclass
class Platform:
    home: Path
    env: dict[str, str]
    status: dict[str, Any]
    token: str
    opensky: FakeOpenSky
    telegram: FakeTelegram

    def url(self, service: str) -> str:
        return str(self.status["services"][service]["url"])

    def client(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.url(service), headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def gateway(self, *, token: bool = True) -> httpx.Client:
        """A client of the TLS gateway that verifies its certificate (the platform's own)."""
        tls = ssl.create_default_context(cafile=str(self.home / "certs" / "gateway.crt"))
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return httpx.Client(base_url=self.status["gateway"], verify=tls, headers=headers, timeout=30)

    def flightctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_flightctl(self.env, *args, check=check)

    def create_user(self, prefix: str = "user", *, chat_id: str | None = None) -> str:
        """A new user with a unique email (and a Telegram chat id when given), through the API."""
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        with self.client("user-manager") as users:
            created = users.post(
                "/users",
                json={"email": email, "first_name": "Grace", "last_name": "Hopper"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert created.status_code == 201, created.text
            if chat_id is not None:
                linked = users.post("/users/telegram", json={"email": email, "telegram_chat_id": chat_id})
                assert linked.status_code == 200, linked.text
        return email

    def database_url(self, service: str) -> str:
        """The SQLAlchemy URL of a service's own database in this platform's PostgreSQL."""
        from flightctl.local import postgres
        from flightctl.platform.layout import Home

        state = Home(self.home).load_state()
        assert state is not None, "the platform has no state file"
        return postgres.url(state, postgres.DATABASES[service])

    def stop(self, *components: str) -> None:
        """Stop single components; `restore()` (or the next `up`) starts them again."""
        self.flightctl("down", "--local", *components)

    def restore(self) -> None:
        """Start whatever is not running and wait until everything is healthy again."""
        run_flightctl(self.env, "up", "--local", "--timeout", "240", timeout=600)


def run_flightctl(
    env: dict[str, str], *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*FLIGHTCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"flightctl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def opensky() -> Iterator[FakeOpenSky]:
    with FakeOpenSky(client_id=OPENSKY_ID, client_secret=OPENSKY_SECRET) as fake:
        yield fake


@pytest.fixture(scope="session")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture(scope="session")
def platform(opensky: FakeOpenSky, telegram: FakeTelegram) -> Iterator[Platform]:
    # The postgres user must be able to traverse the home: a world-traversable place under /tmp.
    home = Path(tempfile.mkdtemp(prefix="flightctl-test-", dir="/tmp"))
    home.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENSKY_", "TELEGRAM_", "FLIGHTCTL_"))},
        "FLIGHTCTL_HOME": str(home),
        "FLIGHTCTL_PORT_BASE": str(TEST_PORT_BASE),
        "OPENSKY_API_URL": opensky.api_url,
        "OPENSKY_TOKEN_URL": opensky.token_url,
        "OPENSKY_CLIENT_ID": OPENSKY_ID,
        "OPENSKY_CLIENT_SECRET": OPENSKY_SECRET,
        "OPENSKY_MOCK_FALLBACK": "false",
        # the fake OpenSky's nightly batch is done at midnight: yesterday is complete at once
        "OPENSKY_BATCH_DELAY_HOURS": "0",
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "COLLECT_INTERVAL_SECONDS": "3600",
        "ALERT_REPEAT_SECONDS": "3600",
        "OUTBOX_RETRY_SECONDS": "1",
    }
    env.pop("API_TOKEN", None)
    try:
        run_flightctl(env, "up", "--local", "--timeout", "240", timeout=600)
        status = json.loads(run_flightctl(env, "status", "-o", "json").stdout)
        token = run_flightctl(env, "auth", "token").stdout.strip()
        yield Platform(home=home, env=env, status=status, token=token, opensky=opensky, telegram=telegram)
    finally:
        down = run_flightctl(env, "down", "--local", "--purge", check=False)
        if down.returncode != 0:  # still stop everything, in-process, so that no process outlives the session
            from flightctl.local.platform import LocalPlatform
            from flightctl.platform.layout import Home

            LocalPlatform(Home(home)).down(purge=True)
        shutil.rmtree(home, ignore_errors=True)
    # `down` stops exactly what `up` started: no process left, no port held.
    from flightctl.platform.layout import Ports, port_in_use

    held = [f"{name}:{port}" for name, port in Ports(TEST_PORT_BASE).all().items() if port_in_use(port)]
    assert down.returncode == 0, down.stderr
    assert not held, f"ports still held after down: {held}"
