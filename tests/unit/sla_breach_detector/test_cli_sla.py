"""`flightctl sla set --name`: how one metric is merged into the config (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from flightctl.cli.sla import merge_metric
from flightctl.errors import UsageError

CONFIG: dict[str, Any] = {
    "metrics": [
        {"name": "p95", "type": "gauge", "query": "q1", "min": 0, "max": 1},
        {"name": "lag", "type": "gauge", "query": "q2", "min": 0, "max": 500},
    ],
    "settings": {"t_check": 30, "owner": "ops"},
}


def test_an_existing_metric_changes_only_the_fields_given() -> None:
    merged = merge_metric(CONFIG, "lag", None, None, 800)
    assert merged["metrics"][1] == {"name": "lag", "type": "gauge", "query": "q2", "min": 0, "max": 800}
    assert merged["metrics"][0] == CONFIG["metrics"][0]
    assert merged["settings"] == CONFIG["settings"]
    assert CONFIG["metrics"][1]["max"] == 500  # the input is not modified


def test_a_new_metric_is_appended_as_a_gauge() -> None:
    merged = merge_metric(CONFIG, "errors", "q3", 0, 0.5)
    assert [m["name"] for m in merged["metrics"]] == ["p95", "lag", "errors"]
    assert merged["metrics"][2] == {"name": "errors", "type": "gauge", "query": "q3", "min": 0, "max": 0.5}


def test_a_new_metric_needs_query_min_and_max() -> None:
    with pytest.raises(UsageError, match=r"'errors' is new: --query, --max needed to add it"):
        merge_metric(CONFIG, "errors", None, 0, None)
