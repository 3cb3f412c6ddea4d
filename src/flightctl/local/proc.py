"""Starting, finding and stopping the platform's processes by process id.

Each process started by `up` has a pid file (JSON: pid, command, fingerprint of its
environment). A pid is only trusted while /proc/<pid>/cmdline still matches the command, so a
recycled pid is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Running:
    name: str
    pid: int
    match: str
    fingerprint: str


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid: int, match: str | None = None, settle: float = 2.0) -> bool:
    """The process exists, is not a zombie, and (given ``match``) its command line contains it.

    A process caught in the middle of exec (just spawned: Popen returns as soon as the new
    program replaces the old one, before its arguments are in place) shows an empty command
    line for a moment; that is waited out for up to ``settle`` seconds, not taken as "gone"."""
    deadline = time.monotonic() + settle
    while True:
        cmdline = _cmdline(pid)
        state = _state(pid)
        if cmdline is None or state is None or state == "Z":
            return False
        if cmdline or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    return match is None or match in " ".join(cmdline)


def find(run_dir: Path, name: str) -> Running | None:
    pid_file = run_dir / f"{name}.json"
    if not pid_file.exists():
        return None
    try:
        data = json.loads(pid_file.read_text())
        running = Running(name, int(data["pid"]), str(data["match"]), str(data.get("fingerprint", "")))
    except (ValueError, KeyError, TypeError):
        pid_file.unlink(missing_ok=True)
        return None
    if not alive(running.pid, running.match):
        pid_file.unlink(missing_ok=True)
        return None
    return running


def spawn(
    run_dir: Path,
    log_file: Path,
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    fingerprint: str = "",
    cwd: Path | None = None,
    match: str | None = None,
) -> Running:
    """Start ``command`` in its own session, output appended to ``log_file``; ``match`` is what
    its command line will contain (default: the command itself)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # Started and recorded as one step: a Ctrl-C in between would leave a process that no
    # pid file knows (and that `down` cannot stop); it takes effect right after instead.
    with interrupts_deferred(), log_file.open("ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
        running = Running(name, process.pid, match or " ".join(command), fingerprint)
        record(run_dir, running)
        _detached.append(process)
    return running


_detached: list[subprocess.Popen[bytes]] = []
"""Children left running on purpose (`down` stops them by pid file): kept referenced so that
Python does not report each as a leaked subprocess while this process lives."""


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) back until the block ends, then raise KeyboardInterrupt. Only the
    main thread can install signal handlers; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if not received:
        return
    if callable(previous):
        previous(signal.SIGINT, None)  # Python's own handler raises KeyboardInterrupt
    elif previous == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)


def record(run_dir: Path, running: Running) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place: a concurrent `find` (another flightctl command)
    # never reads a half-written file and takes the process for gone.
    target = run_dir / f"{running.name}.json"
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(json.dumps({"pid": running.pid, "match": running.match, "fingerprint": running.fingerprint}))
    os.replace(partial, target)


def stop(run_dir: Path, name: str, timeout: float = 20.0, sig: int = signal.SIGTERM) -> bool:
    """Signal the process (and its session), wait for it to go, SIGKILL after ``timeout``."""
    running = find(run_dir, name)
    if running is None:
        return False
    _signal_group(running.pid, sig)
    if not wait_until(lambda: not alive(running.pid), timeout):
        _signal_group(running.pid, signal.SIGKILL)
        wait_until(lambda: not alive(running.pid), 5)
    (run_dir / f"{name}.json").unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; True when it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log yet)"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        text = handle.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])
