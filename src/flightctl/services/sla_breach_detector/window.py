"""The breach rule, with no I/O: the last 10 samples of every series of every
metric; at least 3 below ``min`` is a ``low`` breach, else at least 3 above ``max`` a ``high``
breach. Non-finite samples (NaN, +Inf, -Inf) are "no data" and never enter a window."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from flightctl.services.sla_breach_detector.config import MetricRule, SlaConfig

WINDOW_SIZE = 10
VIOLATIONS_NEEDED = 3
STALE_AFTER_CHECKS = 10
"""A series not seen for this many check intervals is forgotten (its labels went away)."""

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, str, Labels]  # metric name, query, sorted labels


@dataclass(frozen=True)
class Verdict:
    breach_type: str  # "low" | "high"
    threshold: float
    violations: int
    observed: float  # the latest sample


def judge(values: Sequence[float], low: float, high: float, needed: int = VIOLATIONS_NEEDED) -> Verdict | None:
    """The rule over one window: ``low`` when at least ``needed`` samples are below
    ``low``; otherwise ``high`` when at least ``needed`` are above ``high``; otherwise None."""
    if not values:
        return None
    below = sum(1 for v in values if v < low)
    if below >= needed:
        return Verdict("low", low, below, values[-1])
    above = sum(1 for v in values if v > high)
    if above >= needed:
        return Verdict("high", high, above, values[-1])
    return None


def series_key(rule: MetricRule, labels: Mapping[str, str]) -> SeriesKey:
    return rule.name, rule.query, tuple(sorted(labels.items()))


@dataclass
class _Series:
    values: deque[float]
    last_seen: float = field(default=0.0)


class BreachWindows:
    """Sliding windows per (metric, series). One thread (the scheduler's) uses it; the clock
    (monotonic seconds) only decides when a vanished series is forgotten."""

    def __init__(
        self,
        clock: Callable[[], float],
        size: int = WINDOW_SIZE,
        needed: int = VIOLATIONS_NEEDED,
        stale_after_checks: int = STALE_AFTER_CHECKS,
    ) -> None:
        self._clock = clock
        self._size = size
        self._needed = needed
        self._stale_after_checks = stale_after_checks
        self._series: dict[SeriesKey, _Series] = {}

    def observe(self, rule: MetricRule, labels: Mapping[str, str], value: float) -> Verdict | None:
        """Add one sample and judge the series' window. A non-finite value is no data: it is
        not added and never a breach. The window is not cleared here: call :meth:`reset` once
        the breach has been published, so a breach that could not be published is raised
        again at the next check."""
        if not math.isfinite(value):
            return None
        key = series_key(rule, labels)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(values=deque(maxlen=self._size))
        series.values.append(value)
        series.last_seen = self._clock()
        return judge(series.values, rule.min, rule.max, self._needed)

    def reset(self, rule: MetricRule, labels: Mapping[str, str]) -> None:
        """Start the series' history again (after a breach)."""
        self._series.pop(series_key(rule, labels), None)

    def history(self, rule: MetricRule, labels: Mapping[str, str]) -> tuple[float, ...]:
        series = self._series.get(series_key(rule, labels))
        return tuple(series.values) if series else ()

    def __len__(self) -> int:
        return len(self._series)

    def prune(self, config: SlaConfig) -> None:
        """Forget series of metrics that left the config (or whose query changed) and series
        not seen for ``stale_after_checks`` intervals."""
        wanted = {(m.name, m.query) for m in config.metrics}
        oldest = self._clock() - self._stale_after_checks * float(config.t_check)
        for key in [k for k, s in self._series.items() if (k[0], k[1]) not in wanted or s.last_seen < oldest]:
            del self._series[key]
