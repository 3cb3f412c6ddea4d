"""The one backoff policy of the services: after consecutive failures, wait ``base``, then twice
as long each time, never longer than ``cap``. Callers count their failures and sleep with their
own (injected) sleep; the policy is only arithmetic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("a backoff needs 0 < base <= cap")

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` (>= 1) consecutive failures: base, 2 base, 4 base, ... cap."""
        if failures < 1:
            raise ValueError("failures counts from 1")
        return float(min(self.cap, self.base * 2 ** min(failures - 1, 64)))
