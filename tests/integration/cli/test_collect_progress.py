"""`flightctl collect` on a terminal (a real pseudo-terminal) follows the data-collector's cycle:
a bar of the airports fetched and a line per airport as it finishes, read while the cycle is
held mid-way by the fake OpenSky, then the summary table. Piped, with NO_COLOR or -o json it
sends one request, POST /collect, and prints exactly what it printed before the terminal's
progress existed: the `» collecting` line and the plain table (or the JSON) of the answer.

The command talks to data-collector through a proxy that records each request and answer."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import airportsdata
import pytest

from flightctl.cli.data import COLLECT_COLUMNS
from flightctl.cli.output import table
from flightctl.platform.proc import wait_until
from tests.conftest import FLIGHTCTL, Platform, run_flightctl
from tests.fakes.http import Exchange, HttpFake
from tests.fakes.opensky import Fault, make_flight
from tests.integration.cli.proxy import _read_message
from tests.integration.data_collector.conftest import TAKEN

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLLECTING = "» collecting: each watched airport's latest complete day, if not stored yet; live traffic\n"


class RecordingProxy(HttpFake):
    """Forwards every request to data-collector and keeps the answers' JSON bodies."""

    methods = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.exchanges: list[tuple[str, str, Any]] = []

    def handle(self, exchange: Exchange) -> None:
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120) as upstream:
            upstream.sendall(exchange.request.raw)
            answer = _read_message(upstream)
        body = answer.partition(b"\r\n\r\n")[2]
        with self._cond:
            self.exchanges.append((exchange.request.method, exchange.request.path, json.loads(body or b"null")))
        exchange.send_raw(answer)

    def calls(self) -> list[tuple[str, str]]:
        """Every request received (answered or not yet), oldest first."""
        return [(r.method, r.path) for r in self.received]

    def answers(self, method: str, path: str) -> list[Any]:
        with self._cond:
            return [body for m, p, body in self.exchanges if (m, p) == (method, path)]

    def answer(self, method: str, path: str) -> Any:
        return self.answers(method, path)[0]


@pytest.fixture
def proxy(platform: Platform) -> Iterator[RecordingProxy]:
    port = urlsplit(platform.url("data-collector")).port
    assert port is not None
    with RecordingProxy(port) as recording:
        yield recording


class Terminal:
    """A command on a pseudo-terminal of 200 x 50 (stdout and stderr), read as it writes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.process = subprocess.Popen([*FLIGHTCTL, *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env)
        os.close(terminal)
        self.raw = b""
        self.closed = False

    @property
    def text(self) -> str:
        """What it wrote so far, line ends as \\n."""
        return self.raw.decode(errors="replace").replace("\r\n", "\n")

    @property
    def plain(self) -> str:
        return ANSI.sub("", self.text)

    def _read(self, wait: float) -> None:
        ready, _, _ = select.select([self.controller], [], [], wait)
        if not ready:
            return
        try:
            chunk = os.read(self.controller, 65536)
        except OSError:  # EIO: the command closed its terminal
            chunk = b""
        if chunk:
            self.raw += chunk
        else:
            self.closed = True

    def read_until(self, seen: Callable[[str], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not seen(self.plain):
            if self.closed or time.monotonic() > deadline:
                return False
            self._read(0.2)
        return True

    def finish(self, timeout: float = 120) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(0.2)
        os.close(self.controller)
        return self.text, self.process.wait(timeout=30)


@pytest.fixture
def watched_airports(platform: Platform) -> Iterator[Callable[[int], list[str]]]:
    """``n`` airports no other test uses, watched by a new user, one arrival of the latest
    complete day each on the fake OpenSky. Unwatched afterwards, so that the collector's plan
    (and `flightctl status`) is as the other tests of the session expect it."""
    watched: list[dict[str, str]] = []

    def watch(n: int) -> list[str]:
        codes = sorted(c for c in airportsdata.load("ICAO") if c.isalpha() and c not in TAKEN)
        mine = sorted(random.Random(uuid.uuid4().int).sample(codes, n))
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        first, last = (int((day + timedelta(hours=h)).timestamp()) for h in (3, 5))
        platform.opensky.add_flights(
            make_flight(uuid.uuid4().hex[:6], first, last + 60 * i, "LIRF", a, f"TTY{i}") for i, a in enumerate(mine)
        )
        email = platform.create_user("collect-tty")
        for airport in mine:
            run_flightctl(platform.env, "interests", "add", email, airport)
            watched.append({"email": email, "airport_code": airport})
        return mine

    yield watch
    with platform.client("data-collector") as dc:
        for interest in watched:
            assert dc.request("DELETE", "/interests", json=interest).status_code == 200


def test_a_terminal_shows_the_cycle_airport_by_airport(
    platform: Platform, proxy: RecordingProxy, watched_airports: Callable[[int], list[str]]
) -> None:
    mine = watched_airports(3)
    env = {k: v for k, v in platform.env.items() if k != "NO_COLOR"}
    env["FLIGHTCTL_DATA_COLLECTOR_URL"] = proxy.url
    gate = threading.Event()
    platform.opensky.queue_faults(Fault(gate=gate))  # one call held: the cycle stays under way
    terminal = Terminal(env, "collect")
    try:
        # while the cycle is held: the bar, and a line for an airport already fetched
        line = re.compile(rf"✓ ({'|'.join(mine)})  opensky, 1 flight\(s\) stored")
        assert terminal.read_until(lambda text: bool(line.search(text) and re.search(r"\d+/\d+ airports", text)), 60), (
            terminal.plain
        )
        assert ("POST", "/collect") in proxy.calls() and ("GET", "/collector/status") in proxy.calls()
    finally:
        gate.set()
        shown, code = terminal.finish()
    platform.opensky.clear_faults()
    text = ANSI.sub("", shown)
    assert code == 0, text
    assert ANSI.search(shown)  # coloured
    for airport in mine:  # each once, the last ones from the poll after the answer
        assert len(re.findall(rf"✓ {airport}  opensky, 1 flight\(s\) stored", text)) == 1, text
    total = max(status["cycle"]["airports_total"] for status in proxy.answers("GET", "/collector/status"))
    assert re.search(rf"✓ collecting: .* {total}/{total} airports +\d+\.\ds", text), text
    rows = proxy.answer("POST", "/collect")["airports"]
    assert text.index("AIRPORT") > text.index("✓ collecting")  # the summary table after the progress
    for airport in mine:
        row = next(r for r in rows if r["airport"] == airport)
        assert re.search(rf"{airport} +opensky +1 ", text), text
        assert row["flights_stored"] == 1
    assert proxy.calls().count(("POST", "/collect")) == 1


@pytest.mark.parametrize("how", ["piped", "NO_COLOR", "json"])
def test_the_plain_output_is_unchanged_and_nothing_is_polled(
    platform: Platform, proxy: RecordingProxy, watched_airports: Callable[[int], list[str]], how: str
) -> None:
    watched_airports(2)  # something to fetch: the cycle takes a while
    env = {k: v for k, v in platform.env.items() if k != "NO_COLOR"}
    env["FLIGHTCTL_DATA_COLLECTOR_URL"] = proxy.url
    if how == "piped":
        result = run_flightctl(env, "collect")
        stdout, stderr = result.stdout, result.stderr
        answer = proxy.answer("POST", "/collect")
        assert stderr == COLLECTING
        assert stdout == table(answer["airports"], COLLECT_COLUMNS) + "\n"
    else:
        args = ("collect", "-o", "json") if how == "json" else ("collect",)
        shown, code = Terminal({**env, "NO_COLOR": "1"} if how == "NO_COLOR" else env, *args).finish()
        assert code == 0, shown
        answer = proxy.answer("POST", "/collect")
        data = (
            json.dumps(answer, indent=2, ensure_ascii=False)
            if how == "json"
            else table(answer["airports"], COLLECT_COLUMNS)
        )
        assert shown == COLLECTING + data + "\n"
    assert proxy.calls() == [("POST", "/collect")]
    assert [a["flights_stored"] for a in answer["airports"] if a["flights_stored"]]  # it did fetch


def test_ctrl_c_while_following_stops_the_command_as_before(
    platform: Platform, proxy: RecordingProxy, watched_airports: Callable[[int], list[str]]
) -> None:
    watched_airports(1)
    env = {k: v for k, v in platform.env.items() if k != "NO_COLOR"}
    env["FLIGHTCTL_DATA_COLLECTOR_URL"] = proxy.url
    gate = threading.Event()
    platform.opensky.queue_faults(Fault(gate=gate))
    terminal = Terminal(env, "collect")
    try:
        asked = lambda: proxy.calls().count(("GET", "/collector/status")) >= 1  # noqa: E731
        assert terminal.read_until(lambda _text: asked(), 60), terminal.plain  # following the cycle
        terminal.process.send_signal(signal.SIGINT)
        shown, code = terminal.finish()
    finally:
        gate.set()
        if terminal.process.poll() is None:
            terminal.process.kill()
        platform.opensky.clear_faults()
        with platform.client("data-collector") as dc:  # the cycle goes on to its end on the server

            def over() -> bool:
                return dc.get("/collector/status").json()["cycle"]["running"] is False

            assert wait_until(over, timeout=60)
    text = ANSI.sub("", shown)
    assert code == 130, text
    assert text.rstrip().endswith("\ninterrupted") and "Traceback" not in text
    assert "✗ collecting" in text  # the step ends failed, as any interrupted step
