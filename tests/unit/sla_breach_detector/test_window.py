"""The breach rule and the per-series windows, with a hand-driven clock."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from flightctl.services.sla_breach_detector.config import MetricRule, SlaConfig
from flightctl.services.sla_breach_detector.window import BreachWindows, Verdict, judge
from tests.fakes.clock import FakeClock

RULE = MetricRule(name="lat", type="gauge", query="q", min=1.0, max=5.0)
NO_LABELS: dict[str, str] = {}


def config(*rules: MetricRule, t_check: float = 30) -> SlaConfig:
    return SlaConfig(metrics=rules, t_check=t_check, extra_settings={})


def feed(windows: BreachWindows, values: Sequence[float], labels: dict[str, str] | None = None) -> list[Verdict | None]:
    return [windows.observe(RULE, labels or NO_LABELS, v) for v in values]


# -- judge ---------------------------------------------------------------------------------------


def test_three_below_min_is_a_low_breach() -> None:
    assert judge([3, 0.5, 3, 0.2, 3, 3, 0.9], 1, 5) == Verdict("low", 1, 3, 0.9)


def test_two_below_min_is_not_a_breach() -> None:
    assert judge([0.5, 3, 0.2, 3], 1, 5) is None


def test_three_above_max_is_a_high_breach_with_the_latest_value() -> None:
    assert judge([6, 7, 3, 8, 2], 1, 5) == Verdict("high", 5, 3, 2)


def test_high_only_when_not_low() -> None:
    assert judge([0, 0, 0, 9, 9, 9, 9], 1, 5) == Verdict("low", 1, 3, 9)


def test_values_on_the_thresholds_are_inside() -> None:
    assert judge([1, 1, 1, 5, 5, 5], 1, 5) is None


def test_an_empty_window_is_not_a_breach() -> None:
    assert judge([], 1, 5) is None


# -- windows -------------------------------------------------------------------------------------


def test_three_of_ten_low_samples_breach_on_the_third() -> None:
    windows = BreachWindows(FakeClock())
    verdicts = feed(windows, [3, 0.5, 3, 3, 0.5, 3, 3, 3, 0.4])
    assert verdicts[:-1] == [None] * 8
    assert verdicts[-1] == Verdict("low", 1.0, 3, 0.4)


def test_only_the_last_ten_samples_count() -> None:
    windows = BreachWindows(FakeClock())
    feed(windows, [0, 0] + [3] * 9)  # the two low samples slide out of the window
    assert windows.history(RULE, NO_LABELS) == (0,) + (3,) * 9
    assert windows.observe(RULE, NO_LABELS, 0) is None
    assert windows.history(RULE, NO_LABELS) == (3,) * 9 + (0,)


def test_history_starts_again_after_a_reset() -> None:
    windows = BreachWindows(FakeClock())
    assert feed(windows, [9, 9, 9])[-1] == Verdict("high", 5.0, 3, 9)
    windows.reset(RULE, NO_LABELS)
    assert windows.history(RULE, NO_LABELS) == ()
    assert feed(windows, [9, 9]) == [None, None]
    assert windows.observe(RULE, NO_LABELS, 9) == Verdict("high", 5.0, 3, 9)


def test_a_breach_not_reset_is_raised_again() -> None:
    windows = BreachWindows(FakeClock())
    feed(windows, [9, 9, 9])
    assert windows.observe(RULE, NO_LABELS, 3) == Verdict("high", 5.0, 3, 3)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_samples_are_no_data_and_never_a_breach(value: float) -> None:
    windows = BreachWindows(FakeClock())
    assert feed(windows, [value] * 12) == [None] * 12
    assert windows.history(RULE, NO_LABELS) == ()
    feed(windows, [9, 9])
    assert windows.observe(RULE, NO_LABELS, value) is None
    assert windows.history(RULE, NO_LABELS) == (9, 9)


def test_series_are_judged_separately() -> None:
    windows = BreachWindows(FakeClock())
    a, b = {"service": "a"}, {"service": "b"}
    for _ in range(2):
        assert windows.observe(RULE, a, 9) is None
        assert windows.observe(RULE, b, 9) is None
    assert windows.observe(RULE, a, 3) is None  # a: 9, 9, 3 -> two high
    assert windows.observe(RULE, b, 9) == Verdict("high", 5.0, 3, 9)
    windows.reset(RULE, b)
    assert windows.history(RULE, a) == (9, 9, 3)
    assert len(windows) == 1


def test_label_order_does_not_matter() -> None:
    windows = BreachWindows(FakeClock())
    windows.observe(RULE, {"a": "1", "b": "2"}, 9)
    assert windows.history(RULE, {"b": "2", "a": "1"}) == (9,)


def test_prune_forgets_metrics_that_left_the_config_or_changed_query() -> None:
    windows = BreachWindows(FakeClock())
    other = MetricRule(name="other", type="gauge", query="q2", min=0, max=1)
    windows.observe(RULE, NO_LABELS, 9)
    windows.observe(other, NO_LABELS, 9)
    windows.prune(config(RULE))
    assert windows.history(RULE, NO_LABELS) == (9,)
    assert windows.history(other, NO_LABELS) == ()
    changed = MetricRule(name="lat", type="gauge", query="new query", min=1.0, max=5.0)
    windows.prune(config(changed))
    assert len(windows) == 0


def test_prune_keeps_history_when_only_thresholds_change() -> None:
    windows = BreachWindows(FakeClock())
    feed(windows, [4, 4])
    stricter = MetricRule(name="lat", type="gauge", query="q", min=1.0, max=3.0)
    windows.prune(config(stricter))
    assert windows.observe(stricter, NO_LABELS, 4) == Verdict("high", 3.0, 3, 4)


def test_prune_forgets_series_not_seen_for_ten_checks() -> None:
    clock = FakeClock()
    windows = BreachWindows(clock)
    windows.observe(RULE, {"pod": "old"}, 9)
    clock.now += 200
    windows.observe(RULE, {"pod": "new"}, 9)
    clock.now += 100  # "old" last seen 300 s = 10 checks ago: still kept
    windows.prune(config(RULE, t_check=30))
    assert len(windows) == 2
    clock.now += 1
    windows.prune(config(RULE, t_check=30))
    assert windows.history(RULE, {"pod": "old"}) == ()
    assert windows.history(RULE, {"pod": "new"}) == (9,)
