"""How long `flightctl --help` (and a few sub-command helps) take to start, as a user sees it.

Runs each command N times in a fresh interpreter and prints the median and fastest wall-clock
time and the median CPU time, beside `python -c pass` (the interpreter's own floor on this
machine). Not a test: it asserts nothing; the target is under 300 ms for every help.

    .venv/bin/python bench/cli_help.py [-n 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = (
    ["-c", "pass"],
    ["-m", "flightctl", "--help"],
    ["-m", "flightctl", "users", "--help"],
    ["-m", "flightctl", "users", "create", "--help"],
    ["-m", "flightctl", "smoke", "--help"],
)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# As a user runs it: with the byte-code cache (a CI or sandbox shell often disables it with
# PYTHONDONTWRITEBYTECODE, which adds the compilation of every module to every start).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run (CPU time is steadier on a busy machine), after
    one unmeasured run that fills the byte-code cache."""

    def once() -> None:
        quiet = subprocess.DEVNULL
        subprocess.run([sys.executable, *args], stdout=quiet, stderr=quiet, env=ENV, check=True)

    once()
    wall, cpu = [], []
    for _ in range(runs):
        cpu_before, started = cpu_seconds(), time.perf_counter()
        once()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((cpu_seconds() - cpu_before) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--json", help="where to write the result (default bench/results/cli-help-<time>.json)")
    options = parser.parse_args()
    runs = options.runs
    import pipeline_common as common  # after the measured commands' imports are settled: not timed

    result: dict[str, object] = {"benchmark": "cli_help", "commit": common.git_commit(), "machine": common.machine(),
                                 "others_at_start": common.others_running(), "runs": runs, "commands": {}}  # fmt: skip
    print(f"{'command':<42}{'wall median':>12}{'wall min':>10}{'wall max':>10}{'cpu median':>12}  (ms, {runs} runs)")
    for args in COMMANDS:
        wall, cpu = measure(args, runs)
        label = "python " + " ".join(args)
        print(f"{label:<42}{statistics.median(wall):>12.0f}{min(wall):>10.0f}{max(wall):>10.0f}"
              f"{statistics.median(cpu):>12.0f}")  # fmt: skip
        result["commands"][label] = {"wall_ms": common.spread(wall), "cpu_ms": common.spread(cpu)}  # type: ignore[index]
    common.write_result("cli-help", result, options.json)


if __name__ == "__main__":
    main()
