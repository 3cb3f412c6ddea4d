"""One local component under supervision, as Kubernetes keeps a pod's container running:
``python -m flightctl.local.supervisor --name NAME --log FILE --status FILE -- COMMAND...``.

The supervisor starts COMMAND, pipes its output (stdout and stderr) into ``--log``, rotated by
size (``--log-max-bytes``, ``--log-files`` kept, whole lines only), and restarts it whenever it
exits, after a delay that doubles from ``--backoff-initial`` up to ``--backoff-max`` and starts
over once a run has lasted ``--backoff-reset`` seconds. A stop signal (SIGTERM, SIGINT, SIGQUIT,
SIGHUP: what `flightctl down` sends the process group) ends the supervision: the signal is
passed on, the child is waited for, and nothing is restarted. The child dies with the supervisor
(``PR_SET_PDEATHSIG``), so a killed supervisor leaves no unsupervised service behind.

A component that writes its own log files (NGINX) names them with ``--rotate FILE`` and the
signal that makes it reopen them with ``--reopen-signal`` (NGINX: ``SIGUSR1``): every
``--rotate-check`` seconds, a file past the size limit is rotated the same way and the child
signalled.

``--status`` is a JSON file rewritten (atomically) on every change: the supervisor's and the
child's pid, ``state`` (``running``, ``backoff``, ``stopped``), ``restarts``, ``last_exit`` (the
reason of the last unplanned exit: ``exit code N`` or the signal's name, e.g. ``SIGKILL``),
``last_exit_at`` and, while backing off, ``next_start_at`` (Unix times). `flightctl status` shows it.

Only the standard library: this process runs for the platform's lifetime and stays small.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_FILES = 5
_PR_SET_PDEATHSIG = 1


class RotatingLog:
    """Appends whole lines to ``path``; before a line would take it past ``max_bytes``, the file
    becomes ``path.1`` (``path.1`` becomes ``path.2``, ...), ``files`` rotated ones kept (0: the
    file is truncated instead)."""

    def __init__(self, path: Path, max_bytes: int, files: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.files = files
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[bytes] = path.open("ab", buffering=0)  # unbuffered: a failed write keeps nothing
        self._size = self._handle.tell()
        self.dropped = 0

    def write(self, line: bytes) -> None:
        """Append ``line``. When it cannot be written (the disk is full), the line is dropped
        and counted, so that the child never blocks on a full pipe; the first line written
        again is preceded by a note of how many were lost."""
        try:
            if self._handle.closed:  # a rotation that could not reopen the file
                self._handle = self.path.open("ab", buffering=0)
                self._size = self._handle.tell()
            if self.max_bytes > 0 and self._size > 0 and self._size + len(line) > self.max_bytes:
                self.rotate()
            if self.dropped:
                lost = f"flightctl-supervisor: {self.dropped} line(s) lost: the log could not be written\n"
                self._write(lost.encode())
                self.dropped = 0
            self._write(line)
        except OSError:
            self.dropped += 1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._handle.write(view) or 0
            self._size += written
            view = view[written:]

    def rotate(self) -> None:
        self._handle.close()
        rotate_file(self.path, self.files)
        self._handle = self.path.open("wb", buffering=0)
        self._size = 0

    def close(self) -> None:
        self._handle.close()


def rotate_file(path: Path, files: int) -> None:
    """``path`` becomes ``path.1`` (``path.1`` becomes ``path.2``, ...), ``files`` kept; with
    ``files`` 0 it is removed."""
    if files <= 0:
        path.unlink(missing_ok=True)
        return
    rotated(path, files).unlink(missing_ok=True)
    for index in range(files - 1, 0, -1):
        older = rotated(path, index)
        if older.exists():
            os.replace(older, rotated(path, index + 1))
    os.replace(path, rotated(path, 1))


def rotated(path: Path, index: int) -> Path:
    """The ``index``-th rotated file of ``path`` (1: the newest)."""
    return path.with_name(f"{path.name}.{index}")


def describe_exit(returncode: int) -> str:
    """``exit code N``, or the name of the signal that ended the process (``SIGKILL``)."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def read_status(path: Path) -> dict[str, Any] | None:
    """The supervisor's last status, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _die_with_parent() -> None:
    """In the child between fork and exec: SIGTERM when the supervisor goes, however it goes."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return


class Supervisor:
    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log: RotatingLog,
        status_path: Path,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        backoff_reset: float = 60.0,
        own_logs: Sequence[Path] = (),
        reopen_signal: int | None = None,
        rotate_check: float = 5.0,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log = log
        self.status_path = status_path
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.backoff_reset = backoff_reset
        self.own_logs = list(own_logs)
        self.reopen_signal = reopen_signal
        self.rotate_check = rotate_check
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.status: dict[str, Any] = {
            "name": name,
            "pid": os.getpid(),
            "child_pid": None,
            "state": "starting",
            "restarts": 0,
            "last_exit": None,
            "last_exit_at": None,
            "next_start_at": None,
            "started_at": None,
        }

    def on_signal(self, signum: int, _frame: object) -> None:
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                return

    def note(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        self.log.write(f"{stamp} flightctl-supervisor {self.name}: {message}\n".encode())

    def _update(self, **changes: Any) -> None:
        self.status.update(changes)
        partial = self.status_path.with_name(f".{self.status_path.name}.{os.getpid()}")
        try:
            partial.write_text(json.dumps(self.status))
            os.replace(partial, self.status_path)
        except OSError:  # the disk is full: the report stays as it was until the next change
            partial.unlink(missing_ok=True)

    def _pump(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.log.write(line if line.endswith(b"\n") else line + b"\n")
        stream.close()

    def _rotate_own_logs(self) -> None:
        """The child's own log files, rotated when past the limit; the child told to reopen them."""
        while not self.stopping.wait(self.rotate_check):
            full = [p for p in self.own_logs if p.exists() and p.stat().st_size > self.log.max_bytes > 0]
            child = self.child
            if not full or child is None or child.poll() is not None or self.reopen_signal is None:
                continue
            for path in full:
                rotate_file(path, self.log.files)
            child.send_signal(self.reopen_signal)

    def run(self) -> int:
        if self.own_logs:
            threading.Thread(target=self._rotate_own_logs, name="rotate", daemon=True).start()
        delay = self.backoff_initial
        while not self.stopping.is_set():
            started = time.monotonic()
            self.child = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # the other threads only wait on events
            )
            if self.stopping.is_set():  # the stop signal came while it was being started
                self.child.send_signal(signal.SIGTERM)
            self._update(state="running", child_pid=self.child.pid, started_at=time.time(), next_start_at=None)
            assert self.child.stdout is not None
            pump = threading.Thread(target=self._pump, args=(self.child.stdout,), name="pump", daemon=True)
            pump.start()
            returncode = self.child.wait()
            pump.join()
            if self.stopping.is_set():
                break
            ran = time.monotonic() - started
            if ran >= self.backoff_reset:
                delay = self.backoff_initial
            reason = describe_exit(returncode)
            restarts = int(self.status["restarts"]) + 1
            self.note(f"exited ({reason}) after {ran:.1f}s; restart {restarts} in {delay:g}s")
            self._update(
                state="backoff",
                child_pid=None,
                restarts=restarts,
                last_exit=reason,
                last_exit_at=time.time(),
                next_start_at=time.time() + delay,
            )
            self.stopping.wait(delay)
            delay = min(delay * 2, self.backoff_max)
        self._update(state="stopped", child_pid=None, next_start_at=None)
        self.log.close()
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flightctl.local.supervisor", description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--status", required=True, type=Path)
    parser.add_argument("--log-max-bytes", type=int, default=DEFAULT_LOG_MAX_BYTES)
    parser.add_argument("--log-files", type=int, default=DEFAULT_LOG_FILES)
    parser.add_argument("--backoff-initial", type=float, default=1.0)
    parser.add_argument("--backoff-max", type=float, default=30.0)
    parser.add_argument("--backoff-reset", type=float, default=60.0)
    parser.add_argument("--rotate", action="append", type=Path, default=[], help="a log file the child writes")
    parser.add_argument("--reopen-signal", help="makes the child reopen its log files (e.g. SIGUSR1)")
    parser.add_argument("--rotate-check", type=float, default=5.0)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    supervisor = Supervisor(
        args.name,
        args.command,
        RotatingLog(args.log, args.log_max_bytes, args.log_files),
        args.status,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
        backoff_reset=args.backoff_reset,
        own_logs=args.rotate,
        reopen_signal=signal.Signals[args.reopen_signal] if args.reopen_signal else None,
        rotate_check=args.rotate_check,
    )
    for signum in STOP_SIGNALS:
        signal.signal(signum, supervisor.on_signal)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
