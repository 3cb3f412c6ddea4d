"""Starting a process and writing its pid file happen as one step, Ctrl-C or not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from flightctl.platform import proc


def test_ctrl_c_inside_is_raised_after_the_block() -> None:
    reached_end = False
    with pytest.raises(KeyboardInterrupt), proc.interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)  # delivered to this (main) thread's handler now
        reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_ctrl_c_nothing_happens_and_other_threads_run_as_is() -> None:
    with proc.interrupts_deferred():
        pass
    outcome: list[str] = []

    def elsewhere() -> None:
        with proc.interrupts_deferred():
            outcome.append("ran")

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(5)
    assert outcome == ["ran"]


def test_a_ctrl_c_during_spawn_still_leaves_the_process_recorded(tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def popen_then_ctrl_c(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C right after the child exists
        return started[-1]

    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(KeyboardInterrupt):
        proc.spawn(
            tmp_path / "run", tmp_path / "sleeper.log", "sleeper", command, dict(os.environ), popen=popen_then_ctrl_c
        )
    running = proc.find(tmp_path / "run", "sleeper")
    assert running is not None, "the child runs but no pid file knows it"
    assert proc.stop(tmp_path / "run", "sleeper", timeout=10)
    assert started[0].wait(timeout=10) == -signal.SIGTERM  # stopped by stop(), and reaped here


def test_a_process_in_the_middle_of_exec_is_not_taken_for_gone() -> None:
    # Right after Popen returns, /proc/<pid>/cmdline can still be empty (the new program's
    # arguments are not in place yet, most often on a busy machine).
    empty_answers = [3]

    def cmdline(pid: int) -> list[str] | None:
        if empty_answers[0] > 0:
            empty_answers[0] -= 1
            return []
        return proc.read_cmdline(pid)

    assert proc.alive(os.getpid(), match="python", cmdline=cmdline)
    assert empty_answers == [0]
    empty_answers[0] = 10_000  # a command line that never appears: decided after `settle`
    assert not proc.alive(os.getpid(), match="python", settle=0.05, cmdline=cmdline)
