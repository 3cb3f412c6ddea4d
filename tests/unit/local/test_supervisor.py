"""The local supervisor (flightctl.local.supervisor) with real child processes: a killed child is
restarted and the reason recorded, a crashing one backs off with bounded delays, a stop signal
ends supervision without a restart, output is rotated by size in whole lines, and the child
never outlives its supervisor."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flightctl.local.supervisor import RotatingLog, read_status
from flightctl.platform.proc import alive, wait_until

SLEEPER = [sys.executable, "-c", "import time; print('child up', flush=True); time.sleep(120)"]


@contextmanager
def supervised(tmp_path: Path, command: list[str], *options: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flightctl.local.supervisor",
            "--name",
            "demo",
            "--log",
            str(tmp_path / "demo.log"),
            "--status",
            str(tmp_path / "status.json"),
            *options,
            "--",
            *command,
        ],
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def status(tmp_path: Path) -> dict[str, Any]:
    return read_status(tmp_path / "status.json") or {}


def test_a_killed_child_is_restarted_and_the_signal_recorded(tmp_path: Path) -> None:
    with supervised(tmp_path, SLEEPER, "--backoff-initial", "0.2") as supervisor:
        assert wait_until(lambda: status(tmp_path).get("state") == "running", 10, 0.05)
        first = status(tmp_path)["child_pid"]
        assert status(tmp_path)["restarts"] == 0 and status(tmp_path)["last_exit"] is None

        os.kill(first, signal.SIGKILL)

        assert wait_until(lambda: status(tmp_path).get("restarts") == 1 and status(tmp_path)["state"] == "running", 10)
        after = status(tmp_path)
        assert after["last_exit"] == "SIGKILL"
        assert after["child_pid"] != first and alive(after["child_pid"])
        assert "exited (SIGKILL)" in (tmp_path / "demo.log").read_text()

        os.killpg(supervisor.pid, signal.SIGTERM)  # what `flightctl down` does
        assert supervisor.wait(timeout=10) == 0
        assert status(tmp_path)["state"] == "stopped" and status(tmp_path)["restarts"] == 1
        assert not alive(after["child_pid"])


def test_a_child_crashing_at_start_backs_off_with_bounded_delays(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys; print('bad setting', file=sys.stderr); sys.exit(3)"]
    with supervised(tmp_path, crash, "--backoff-initial", "0.1", "--backoff-max", "0.4") as supervisor:
        assert wait_until(lambda: status(tmp_path).get("restarts", 0) >= 5, 20, 0.05)
        report = status(tmp_path)
        assert report["last_exit"] == "exit code 3"
        log = (tmp_path / "demo.log").read_text()
        delays = [float(d) for d in re.findall(r"restart \d+ in ([\d.]+)s", log)]
        assert delays[:5] == [0.1, 0.2, 0.4, 0.4, 0.4]
        assert "bad setting" in log

        supervisor.send_signal(signal.SIGTERM)  # the supervisor alone: it stops during the backoff
        assert supervisor.wait(timeout=5) == 0
        assert status(tmp_path)["state"] == "stopped"


def test_a_stop_signal_to_the_supervisor_alone_reaches_the_child(tmp_path: Path) -> None:
    with supervised(tmp_path, SLEEPER) as supervisor:
        assert wait_until(lambda: status(tmp_path).get("state") == "running", 10, 0.05)
        child = status(tmp_path)["child_pid"]
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=10) == 0
        assert not alive(child)
        assert status(tmp_path)["restarts"] == 0


def test_the_child_does_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    with supervised(tmp_path, SLEEPER) as supervisor:
        assert wait_until(lambda: status(tmp_path).get("state") == "running", 10, 0.05)
        child = status(tmp_path)["child_pid"]
        supervisor.kill()  # the supervisor alone, not its group
        supervisor.wait(timeout=5)
        assert wait_until(lambda: not alive(child), 10)


def test_output_is_rotated_by_size_in_whole_lines(tmp_path: Path) -> None:
    chatty = [sys.executable, "-c", "import sys\nfor i in range(3000): print(f'line {i:05d} ' + 'x' * 40)"]
    with supervised(tmp_path, chatty, "--log-max-bytes", "8192", "--log-files", "2") as supervisor:
        assert wait_until(lambda: status(tmp_path).get("restarts", 0) >= 1, 20, 0.05)
        os.killpg(supervisor.pid, signal.SIGTERM)
        supervisor.wait(timeout=10)
    files = sorted(p.name for p in tmp_path.glob("demo.log*"))
    assert files == ["demo.log", "demo.log.1", "demo.log.2"]
    for path in tmp_path.glob("demo.log*"):
        assert path.stat().st_size <= 8192
        for line in path.read_text().splitlines():
            assert re.fullmatch(r"line \d{5} x{40}|.* flightctl-supervisor demo: .*", line), line


def test_lines_that_cannot_be_written_are_counted_and_reported_once_writing_works_again(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "x.log", 1 << 20, 2)
    log.write(b"before\n")
    with Path("/dev/full").open("ab", buffering=0) as full:  # every write: ENOSPC, as on a full disk
        log._handle, kept = full, log._handle
        log.write(b"lost 1\n")
        log.write(b"lost 2\n")
        assert log.dropped == 2
        log._handle = kept  # space again
    log.write(b"after\n")
    log.close()
    assert (tmp_path / "x.log").read_text().splitlines() == [
        "before",
        "flightctl-supervisor: 2 line(s) lost: the log could not be written",
        "after",
    ]


WRITER = """
import signal, sys, time
path = sys.argv[1]
out = open(path, "a", buffering=1)
def reopen(_signum, _frame):
    global out
    out.close()
    out = open(path, "a", buffering=1)
signal.signal(signal.SIGUSR1, reopen)
for i in range(100000):
    out.write(f"own {i:06d} " + "y" * 50 + "\\n")
    time.sleep(0.0005)
"""


def test_a_childs_own_log_is_rotated_and_the_child_told_to_reopen_it(tmp_path: Path) -> None:
    own = tmp_path / "access.log"
    writer = [sys.executable, "-c", WRITER, str(own)]
    options = ["--log-max-bytes", "8192", "--log-files", "2", "--rotate", str(own)]
    with supervised(tmp_path, writer, *options, "--reopen-signal", "SIGUSR1", "--rotate-check", "0.1") as supervisor:
        assert wait_until(lambda: (tmp_path / "access.log.2").exists(), 30, 0.05)
        # after a rotation the child writes to a new access.log, not to the renamed one
        assert wait_until(lambda: own.exists() and own.stat().st_size > 0, 10, 0.05)
        os.killpg(supervisor.pid, signal.SIGTERM)
        supervisor.wait(timeout=10)
    assert not (tmp_path / "access.log.3").exists()
    for path in (own, tmp_path / "access.log.1", tmp_path / "access.log.2"):
        assert path.stat().st_size < 8192 * 4  # bounded: checked every 0.1 s, rotated past 8 KiB
