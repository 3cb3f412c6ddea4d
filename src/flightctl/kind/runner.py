"""How flightctl runs external commands (docker, kind, kubectl, ctr, pip) for the cluster mode.

Everything in ``flightctl.kind`` goes through a :class:`Runner`, so the whole lifecycle can be
driven in tests by a :class:`RecordingRunner` that records each command and answers from a
script, without Docker, Kind or a cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from flightctl.errors import PrerequisiteMissing


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class Started:
    """A long-running process started in its own session; ``match`` is a part of its command
    line, so that a recycled pid is never mistaken for it (flightctl.platform.proc.alive)."""

    pid: int
    match: str


class Runner(Protocol):
    def which(self, program: str) -> str | None:
        """The program's path on PATH, or None."""

    def run(
        self, argv: Sequence[str], *, input: str | None = None, stream: bool = False, timeout: float | None = None
    ) -> Completed:
        """Run to completion. ``stream``: the output goes to flightctl's stderr as it comes
        (progress), instead of being captured."""

    def pipe(self, producer: Sequence[str], consumer: Sequence[str], *, stream: bool = False) -> Completed:
        """``producer | consumer`` (bytes, e.g. ``docker save | ctr images import -``): the first
        failure of the two (the producer's first), else the consumer's result."""

    def start(self, argv: Sequence[str], log_file: Path) -> Started:
        """Start a long-running process in its own session, output appended to ``log_file``."""


class SubprocessRunner:
    """The real thing."""

    def which(self, program: str) -> str | None:
        return shutil.which(program)

    def run(
        self, argv: Sequence[str], *, input: str | None = None, stream: bool = False, timeout: float | None = None
    ) -> Completed:
        try:
            if stream:
                result = subprocess.run(list(argv), input=input, stdout=2, text=True, timeout=timeout, check=False)
                return Completed(result.returncode)
            result = subprocess.run(
                list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise PrerequisiteMissing(f"{argv[0]} is not installed (not found on PATH)") from None
        except subprocess.TimeoutExpired:
            return Completed(124, "", f"{argv[0]} did not finish within {timeout:.0f}s")
        return Completed(result.returncode, result.stdout, result.stderr)

    def pipe(self, producer: Sequence[str], consumer: Sequence[str], *, stream: bool = False) -> Completed:
        import tempfile

        with tempfile.TemporaryFile() as producer_errors:
            try:
                first = subprocess.Popen(list(producer), stdout=subprocess.PIPE, stderr=producer_errors)
            except FileNotFoundError:
                raise PrerequisiteMissing(f"{producer[0]} is not installed (not found on PATH)") from None
            try:
                second = subprocess.run(
                    list(consumer),
                    stdin=first.stdout,
                    stdout=2 if stream else subprocess.PIPE,
                    stderr=None if stream else subprocess.PIPE,
                    check=False,
                )
            except FileNotFoundError:
                first.kill()
                first.wait()
                raise PrerequisiteMissing(f"{consumer[0]} is not installed (not found on PATH)") from None
            finally:
                if first.stdout is not None:
                    first.stdout.close()  # the producer gets SIGPIPE if the consumer stopped early
            first.wait()
            producer_errors.seek(0)
            errors = producer_errors.read().decode(errors="replace")
        if first.returncode != 0:
            return Completed(first.returncode, "", errors)
        return Completed(second.returncode, _text(second.stdout), _text(second.stderr))

    def start(self, argv: Sequence[str], log_file: Path) -> Started:
        """posix_spawn, not Popen: the process outlives this one (the CLI exits, the forward
        keeps running), so there is no Popen object to wait for."""
        program = shutil.which(argv[0])
        if program is None:
            raise PrerequisiteMissing(f"{argv[0]} is not installed (not found on PATH)")
        log_file.parent.mkdir(parents=True, exist_ok=True)
        pid = os.posix_spawn(
            program,
            list(argv),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
        return Started(pid, " ".join(argv))


def _text(data: bytes | None) -> str:
    return data.decode(errors="replace") if data else ""


@dataclass
class RecordingRunner:
    """A scripted stand-in: records every command, answers from ``script``.

    ``script`` maps a command prefix (a tuple of leading arguments) to the result, or to a list
    of results used one after the other (the last one repeats); the longest matching prefix
    wins; anything unscripted succeeds with no output. ``programs`` are the programs found on
    PATH. ``stand_in`` turns a long-running command into the command that really starts (e.g.
    a Python child that listens on the forwarded port), so that pids and liveness are real.
    """

    script: dict[tuple[str, ...], Completed | list[Completed]] = field(default_factory=dict)
    programs: set[str] = field(default_factory=lambda: {"docker", "kind", "kubectl"})
    stand_in: Callable[[Sequence[str]], list[str]] | None = None
    calls: list[list[str]] = field(default_factory=list)
    inputs: list[str | None] = field(default_factory=list)
    started: list[Started] = field(default_factory=list)

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.programs else None

    def run(
        self, argv: Sequence[str], *, input: str | None = None, stream: bool = False, timeout: float | None = None
    ) -> Completed:
        self.calls.append(list(argv))
        self.inputs.append(input)
        matches = [prefix for prefix in self.script if tuple(argv[: len(prefix)]) == prefix]
        if not matches:
            return Completed(0)
        answer = self.script[max(matches, key=len)]
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer

    def pipe(self, producer: Sequence[str], consumer: Sequence[str], *, stream: bool = False) -> Completed:
        """Recorded as one call, ``[*producer, "|", *consumer]``, answered like ``run``."""
        return self.run([*producer, PIPE, *consumer], stream=stream)

    def start(self, argv: Sequence[str], log_file: Path) -> Started:
        self.calls.append(list(argv))
        self.inputs.append(None)
        if self.stand_in is None:
            raise AssertionError("RecordingRunner.start needs a stand_in command")
        started = SubprocessRunner().start(self.stand_in(argv), log_file)
        self.started.append(started)
        return started

    def commands(self) -> list[str]:
        """The recorded commands as shell lines, for readable assertions (a pipe as ``a | b``)."""
        return [shell_line(call) for call in self.calls]


PIPE = "|"


def shell_line(argv: Sequence[str]) -> str:
    """The command as a shell line; a recorded pipe (``PIPE`` between two commands) as ``a | b``."""
    import shlex

    if PIPE in argv:
        at = list(argv).index(PIPE)
        return f"{shlex.join(argv[:at])} | {shell_line(argv[at + 1 :])}"
    return shlex.join(argv)
