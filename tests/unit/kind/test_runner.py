"""The runner's pipe (`docker save | ctr images import -`): real processes, bytes through, and
which side's failure is reported."""

from __future__ import annotations

import sys

import pytest

from flightctl.errors import PrerequisiteMissing
from flightctl.kind.runner import Completed, RecordingRunner, SubprocessRunner

# 3 MiB of every byte value: more than a pipe buffer, and not text.
PRODUCER = [sys.executable, "-c", "import sys; sys.stdout.buffer.write(bytes(range(256)) * 12288)"]
COUNTER = [
    sys.executable,
    "-c",
    "import hashlib, sys; data = sys.stdin.buffer.read(); print(len(data), hashlib.sha256(data).hexdigest()[:12])",
]


def test_a_pipe_carries_the_bytes_and_answers_with_the_consumer() -> None:
    import hashlib

    result = SubprocessRunner().pipe(PRODUCER, COUNTER)
    digest = hashlib.sha256(bytes(range(256)) * 12288).hexdigest()[:12]
    assert result == Completed(0, f"{3 * 1024 * 1024} {digest}\n", "")


def test_the_producers_failure_comes_first() -> None:
    failing = [
        sys.executable,
        "-c",
        "import sys; sys.stderr.write('Error: No such image: flightctl/x:dev\\n'); sys.exit(1)",
    ]
    result = SubprocessRunner().pipe(failing, COUNTER)
    assert result.returncode == 1
    assert "No such image" in result.stderr


def test_the_consumers_failure_is_reported() -> None:
    refusing = [
        sys.executable,
        "-c",
        "import sys; sys.stdin.buffer.read(10); print('ctr: refused', file=sys.stderr); sys.exit(3)",
    ]
    result = SubprocessRunner().pipe(PRODUCER, refusing)
    assert result.returncode in (3, 1) or not result.ok  # the producer may die of the closed pipe first
    assert not result.ok


def test_a_missing_program_is_a_prerequisite() -> None:
    with pytest.raises(PrerequisiteMissing, match="no-such-ctr is not installed"):
        SubprocessRunner().pipe(PRODUCER, ["no-such-ctr", "images", "import", "-"])
    with pytest.raises(PrerequisiteMissing, match="no-such-docker is not installed"):
        SubprocessRunner().pipe(["no-such-docker", "save"], COUNTER)


def test_the_recording_runner_records_a_pipe_as_one_command() -> None:
    runner = RecordingRunner()
    runner.script[("docker", "save")] = Completed(1, "", "no image")
    assert runner.pipe(["docker", "save", "a:1"], ["ctr", "-n", "k8s.io", "images", "import", "-"]).returncode == 1
    assert runner.calls == [["docker", "save", "a:1", "|", "ctr", "-n", "k8s.io", "images", "import", "-"]]
    assert runner.commands() == ["docker save a:1 | ctr -n k8s.io images import -"]
