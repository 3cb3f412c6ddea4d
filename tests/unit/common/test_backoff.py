from __future__ import annotations

import pytest

from flightctl.services.common.backoff import Backoff


def test_the_delay_doubles_from_the_base_up_to_the_cap() -> None:
    policy = Backoff(base=0.5, cap=10.0)
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert policy.delay(10_000) == 10.0  # no overflow after a long outage


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (2, 1), (-1, 5)])
def test_a_policy_that_makes_no_sense_is_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base=base, cap=cap)


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError):
        Backoff(base=1, cap=2).delay(0)
