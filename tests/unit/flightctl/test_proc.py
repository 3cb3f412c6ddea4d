"""Starting a process and writing its pid file happen as one step, Ctrl-C or not."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from flightctl.local import proc


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


def test_a_ctrl_c_during_spawn_still_leaves_the_process_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_popen = proc.subprocess.Popen

    def popen_then_ctrl_c(*args: object, **kwargs: object) -> object:
        started = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C right after the child exists
        return started

    monkeypatch.setattr(proc.subprocess, "Popen", popen_then_ctrl_c)
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(KeyboardInterrupt):
        proc.spawn(tmp_path / "run", tmp_path / "sleeper.log", "sleeper", command, dict(os.environ))
    running = proc.find(tmp_path / "run", "sleeper")
    assert running is not None, "the child runs but no pid file knows it"
    assert proc.stop(tmp_path / "run", "sleeper", timeout=10)


def test_a_process_in_the_middle_of_exec_is_not_taken_for_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Right after Popen returns, /proc/<pid>/cmdline can still be empty (the new program's
    # arguments are not in place yet, most often on a busy machine).
    real = proc._cmdline
    empty_answers = [3]

    def cmdline(pid: int) -> list[str] | None:
        if empty_answers[0] > 0:
            empty_answers[0] -= 1
            return []
        return real(pid)

    monkeypatch.setattr(proc, "_cmdline", cmdline)
    assert proc.alive(os.getpid(), match="python")
    assert empty_answers == [0]
    empty_answers[0] = 10_000  # a command line that never appears: decided after `settle`
    assert not proc.alive(os.getpid(), match="python", settle=0.05)
