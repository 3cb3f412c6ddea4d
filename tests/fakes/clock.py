"""A monotonic clock for tests: it moves only when told (``advance``) or when code under test
sleeps on it (``sleep`` records the pause and moves on at once)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> bool:
        """Records the pause and moves on; False like ``Event.wait`` when nobody stopped it."""
        self.sleeps.append(seconds)
        self.now += seconds
        return False
