"""Starting, finding and stopping long-running processes by process id: the local platform's
components and the Kind context's port-forwards.

Each process has a pid file (JSON: pid, command, fingerprint of its environment). A pid is only
trusted while /proc/<pid>/cmdline still matches the command, so a recycled pid is never
signalled.
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
from typing import IO

from flightctl.errors import FlightctlError


@dataclass(frozen=True)
class Running:
    name: str
    pid: int
    match: str
    fingerprint: str


def read_cmdline(pid: int) -> list[str] | None:
    """The process's arguments from /proc (empty while it is in the middle of exec), or None
    when there is no such process."""
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


def alive(
    pid: int,
    match: str | None = None,
    settle: float = 2.0,
    *,
    cmdline: Callable[[int], list[str] | None] = read_cmdline,
) -> bool:
    """The process exists, is not a zombie, and (given ``match``) its command line contains it.

    A process caught in the middle of exec (just spawned: Popen returns as soon as the new
    program replaces the old one, before its arguments are in place) shows an empty command
    line for a moment; that is waited out for up to ``settle`` seconds, not taken as "gone".
    ``cmdline`` reads a process's arguments (read_cmdline)."""
    deadline = time.monotonic() + settle
    while True:
        arguments = cmdline(pid)
        state = _state(pid)
        if arguments is None or state is None or state == "Z":
            return False
        if arguments or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    return match is None or match in " ".join(arguments)


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
    *,
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
) -> Running:
    """Start ``command`` (with ``popen``) in its own session, output appended to ``log_file``;
    ``match`` is what its command line will contain (default: the command itself)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # Started and recorded as one step: a Ctrl-C in between would leave a process that no
    # pid file knows (and that `down` cannot stop); it takes effect right after instead.
    with interrupts_deferred(), log_file.open("ab") as log:
        process = popen(
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
    for child in [c for c in _detached if c.pid == running.pid]:  # started by this process: reap it
        child.poll()
        _detached.remove(child)
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
    """The last ``lines`` whole lines of the log at ``path`` (continued into its rotated files,
    ``path.1``, ``path.2``, ...), as text."""
    if not path.exists():
        return "(no log yet)"
    return "\n".join(line.decode(errors="replace") for line in last_lines(log_files(path), lines))


def log_files(path: Path) -> list[Path]:
    """``path`` and its rotated files that exist, newest first (``path``, ``path.1``, ...)."""
    files = [path]
    index = 1
    while (older := path.with_name(f"{path.name}.{index}")).exists():
        files.append(older)
        index += 1
    return files


def last_lines(paths: Sequence[Path], count: int, block: int = 64 * 1024) -> list[bytes]:
    """The last ``count`` lines of the files ``paths`` (newest first) taken as one log, oldest
    first, without their newlines. Read backwards in blocks of ``block`` bytes, so a long log
    costs only what is shown; a line split across two blocks is joined, never cut."""
    found: list[bytes] = []  # newest first
    for path in paths:
        if len(found) >= count:
            break
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # rotated away meanwhile
            continue
        with handle:
            position = handle.seek(0, os.SEEK_END)
            if position and _byte_at(handle, position - 1) == b"\n":
                position -= 1  # the file's final newline ends the last line, it starts none
            pending = b""
            while position > 0 and len(found) < count:
                size = min(block, position)
                position -= size
                handle.seek(position)
                parts = (handle.read(size) + pending).split(b"\n")
                pending = parts[0]
                for line in reversed(parts[1:]):
                    found.append(line)
                    if len(found) >= count:
                        break
            if len(found) < count and (pending or handle.tell() > 0):
                found.append(pending)
    return list(reversed(found))


def _byte_at(handle: IO[bytes], offset: int) -> bytes:
    handle.seek(offset)
    return handle.read(1)


def follow(command: Sequence[str]) -> None:
    """Run ``command`` in the foreground, its output straight to the terminal, until it ends or
    Ctrl-C (KeyboardInterrupt) stops it: `tail -F` a log, `kubectl logs -f`."""
    try:
        subprocess.run(list(command), check=False)
    except FileNotFoundError:
        raise FlightctlError(f"{command[0]} is not installed; see `flightctl doctor`") from None
