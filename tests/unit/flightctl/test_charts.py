"""The charts of `flightctl flights stats`: the terminal chart names the airport and draws the
thresholds; the image options refuse both at once and say how to install matplotlib."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from flightctl.cli import charts
from flightctl.errors import PREREQUISITE, USAGE, FlightctlError

STATS = {
    "airport": "LIRF",
    "type": "all",
    "granularity": "day",
    "days": 3,
    "buckets": [
        {"start": "2026-11-29T00:00:00+00:00", "flights": 4},
        {"start": "2026-11-30T00:00:00+00:00", "flights": 0},
        {"start": "2026-12-01T00:00:00+00:00", "flights": 9},
    ],
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_the_terminal_chart_has_the_title_the_days_and_the_threshold_lines() -> None:
    series = charts.Series.of(STATS, [charts.Threshold("high", 7), charts.Threshold("low", 2)], "ada@example.com")
    assert series.labels == ["2026-11-29", "2026-11-30", "2026-12-01"] and series.counts == [4, 0, 9]
    drawn = charts.terminal(series, 100, 20)
    plain = ANSI.sub("", drawn)
    assert len(plain.splitlines()) == 20
    assert "LIRF: flights per day (UTC), last 3 day(s); thresholds of ada@example.com" in plain
    assert "high 7" in plain and "low 2" in plain
    assert "2026-11-29" in plain and "2026-12-01" in plain
    assert "\x1b[" in drawn  # coloured


def test_hourly_labels() -> None:
    hourly = {**STATS, "granularity": "hour", "buckets": [{"start": "2026-12-01T05:00:00+00:00", "flights": 1}]}
    assert charts.Series.of(hourly, []).labels == ["12-01 05h"]


def test_image_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert charts.image_format(None, None) is None
    assert charts.image_format(tmp_path / "a.png", None) == (tmp_path / "a.png", "png")
    assert charts.image_format(None, tmp_path / "a.svg") == (tmp_path / "a.svg", "svg")
    with pytest.raises(FlightctlError) as both:
        charts.image_format(tmp_path / "a.png", tmp_path / "a.svg")
    assert both.value.exit_code == USAGE
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(FlightctlError) as missing:
        charts.image_format(None, tmp_path / "a.svg")
    assert missing.value.exit_code == PREREQUISITE
    assert missing.value.message == (
        "--png and --svg need matplotlib; install it with: pip install 'flightctl-platform[charts]'"
    )
