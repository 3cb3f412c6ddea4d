"""The scheduler's next-run computation, and its loop driven by a fake clock (no sleeps)."""

from __future__ import annotations

import threading

from flightctl.services.sla_breach_detector.scheduler import Scheduler, next_run


def test_the_first_run_is_now() -> None:
    assert next_run(None, 30, 1000) == 1000


def test_the_next_run_is_one_interval_after_the_previous_scheduled_one() -> None:
    assert next_run(1000, 30, 1005) == 1030


def test_a_slow_step_does_not_push_the_schedule_back() -> None:
    # the step scheduled at 1000 ended at 1020: the next is still at 1030, not 1050
    assert next_run(1000, 30, 1020) == 1030


def test_a_step_that_overran_is_followed_at_once_on_the_grid() -> None:
    assert next_run(1000, 30, 1031) == 1030


def test_whole_missed_intervals_are_skipped_not_replayed() -> None:
    # the step scheduled at 1000 took 95 s: slots 1030 and 1060 are gone, 1090 runs now
    assert next_run(1000, 30, 1095) == 1090


def test_exactly_on_the_slot_runs_now() -> None:
    assert next_run(1000, 30, 1030) == 1030


def test_a_shorter_interval_takes_effect_from_the_previous_run() -> None:
    assert next_run(1000, 10, 1004) == 1010
    assert next_run(1000, 10, 1025) == 1020


def test_a_longer_interval_waits_longer() -> None:
    assert next_run(1000, 120, 1040) == 1120


class FakeTime:
    """A clock and a wait that moves it: the loop runs through hours in microseconds."""

    def __init__(self) -> None:
        self.now = 500.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


def run_steps(scheduler: Scheduler, done: threading.Event) -> None:
    scheduler.start()
    try:
        assert done.wait(timeout=10)
    finally:
        scheduler.stop()
    assert not scheduler.is_alive()


def test_the_loop_runs_on_the_grid_and_survives_a_failing_step() -> None:
    time = FakeTime()
    started: list[float] = []
    durations = [5.0, 40.0, 95.0]
    done = threading.Event()

    def step() -> None:
        started.append(time.now)
        if len(started) == 4:
            scheduler.request_stop()
            done.set()
            return
        time.now += durations[len(started) - 1]
        if len(started) == 2:
            raise RuntimeError("one bad check")

    scheduler = Scheduler("test", lambda: 30.0, step, clock=time.clock, wait=time.wait)
    run_steps(scheduler, done)
    # 500 ran 5 s, then waited 25 s; 530 ran 40 s, so 560 ran late, at once, at 570;
    # 560 ran 95 s (to 665): 590 and 620 were missed, and 650 ran at once at 665
    assert started == [500.0, 530.0, 570.0, 665.0]
    assert time.waits == [25.0]


def test_the_interval_is_read_before_every_wait() -> None:
    time = FakeTime()
    intervals = iter([30.0, 30.0, 10.0, 10.0, 10.0])
    started: list[float] = []
    done = threading.Event()

    def step() -> None:
        started.append(time.now)
        if len(started) == 3:
            scheduler.request_stop()
            done.set()

    scheduler = Scheduler("test", lambda: next(intervals), step, clock=time.clock, wait=time.wait)
    run_steps(scheduler, done)
    assert started == [500.0, 530.0, 540.0]


def test_huge_intervals_are_waited_in_chunks() -> None:
    time = FakeTime()
    started: list[float] = []
    done = threading.Event()

    def step() -> None:
        started.append(time.now)
        if len(started) == 2:
            scheduler.request_stop()
            done.set()

    scheduler = Scheduler("test", lambda: 150.0, step, clock=time.clock, wait=time.wait)
    run_steps(scheduler, done)
    assert time.waits == [60.0, 60.0, 30.0]
    assert started == [500.0, 650.0]


def test_stop_and_wake_interrupt_a_real_wait() -> None:
    ran = threading.Event()
    runs: list[int] = []
    frozen = 500.0

    def step() -> None:
        runs.append(1)
        ran.set()

    scheduler = Scheduler("test", lambda: 1e9, step, clock=lambda: frozen)
    scheduler.start()
    assert ran.wait(timeout=10)
    scheduler.wake()  # recomputes: still 1e9 s away, so no second run
    scheduler.stop()
    assert not scheduler.is_alive()
    assert runs == [1]
