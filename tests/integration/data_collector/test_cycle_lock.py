"""Two data-collector processes on one database: a second process, started with the
environment flightctl gives the platform's own, answers 409 to POST /collect while the first
process is in the middle of a cycle, and collects once that cycle is over."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flightctl.config import configuration
from flightctl.local import services
from flightctl.platform.layout import Home
from flightctl.platform.proc import wait_until
from tests.conftest import ROOT, Platform
from tests.fakes.opensky import Fault
from tests.integration.data_collector.conftest import create_user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def second_collector(platform: Platform) -> Iterator[httpx.Client]:
    home = Home(platform.home)
    state = home.load_state()
    assert state is not None
    env = services.environment("data-collector", home, state, configuration(platform.env, Path(tempfile.gettempdir())))
    port = free_port()
    env.update(HTTP_PORT=str(port), GRPC_PORT=str(free_port()))
    log = home.log_file("data-collector-second")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flightctl.services.data_collector"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {state.api_token}"}, timeout=30
    )
    try:

        def first_cycle_over() -> bool:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                body = client.get("/metrics").text
            except httpx.TransportError:
                return False
            return 'collector_cycles_total{outcome="ok"} 1.0' in body or 'outcome="skipped"} 1.0' in body

        # it runs a cycle at start (COLLECT_INTERVAL_SECONDS=3600 afterwards)
        assert wait_until(first_cycle_over, timeout=30), log.read_text()[-2000:]
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_only_one_process_collects_at_a_time(platform: Platform, second_collector: httpx.Client) -> None:
    email = create_user(platform)
    with platform.client("data-collector") as first:
        # at least one airport to fetch, so that the first cycle reaches OpenSky
        assert first.post("/interests", json={"email": email, "airport_code": "LIRQ"}).status_code in (201, 409)
        gate = threading.Event()
        sent = len(platform.opensky.flight_requests())
        platform.opensky.queue_faults(Fault(gate=gate))  # the next OpenSky answer waits for the gate
        answers: list[httpx.Response] = []
        running = threading.Thread(target=lambda: answers.append(first.post("/collect")))
        running.start()
        try:
            assert platform.opensky.wait_for_flight_requests(sent + 1, timeout=15)  # first is mid-cycle
            busy = second_collector.post("/collect")
            assert busy.status_code == 409, busy.text
            assert "already running" in busy.json()["error"]
            assert first.post("/collect").status_code == 409  # the same process refuses a second one too
        finally:
            gate.set()
            running.join(timeout=30)
        assert [a.status_code for a in answers] == [200]
    skipped = scrape_second(second_collector)
    assert skipped >= 1
    after = second_collector.post("/collect")  # the lock is free again
    assert after.status_code == 200, after.text
    assert any(a["airport"] == "LIRQ" for a in after.json()["airports"])


def scrape_second(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('collector_cycles_total{outcome="skipped"}'):
            return float(line.split()[-1])
    raise AssertionError("collector_cycles_total{outcome=skipped} not exposed")
