"""flightctl top's pieces without a platform: the last hour's counts (a counter now minus an hour
ago; a restart in between counts what is there now), and a frame's rendering."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from flightctl.cli import top


class FakePrometheus:
    url = "http://prometheus.test"

    def __init__(self, answers: dict[str, dict[tuple[str, ...], float]]) -> None:
        self.answers = answers

    def by(self, query: str, *labels: str) -> dict[tuple[str, ...], float]:
        return self.answers.get(query, {})


def test_last_hour_is_now_minus_an_hour_ago() -> None:
    prometheus = FakePrometheus(
        {
            "sum by (kind) (alerts_emitted_total)": {("high",): 7.0, ("low",): 2.0, ("resolved",): 3.0, ("x",): 4.0},
            "sum by (kind) (alerts_emitted_total offset 1h)": {("high",): 5.0, ("low",): 5.0, ("resolved",): 3.0},
        }
    )
    rows = top.last_hour(prometheus, "alerts_emitted_total", ("kind",))  # type: ignore[arg-type]
    # high: 7 - 5; low restarted (2 < 5): the 2 since; resolved: none in the hour (left out); x: new series
    assert rows == [{"kind": "high", "count": 2}, {"kind": "low", "count": 2}, {"kind": "x", "count": 4}]


def frame(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time": "2026-12-02T13:00:00+00:00",
        "context": "local",
        "prometheus": "http://prometheus.test",
        "unreachable": [],
        "services": [
            {"service": "user-manager", "healthy": True, "requests": 10, "errors_5xx": 0,
             "requests_per_second": 1.5, "error_ratio": 0.0, "p95_ms": 12.5},
            {"service": "data-collector", "healthy": False, "requests": 4, "errors_5xx": 2,
             "requests_per_second": 0.5, "error_ratio": 0.5, "p95_ms": 40.0},
        ],
        "collector": {"last_success": None, "seconds_since_last_success": None, "credits": [], "next_fetches": []},
        "kafka_lag": [{"service": "alert-system", "topic": "to-alert-system", "lag": 3}],
        "last_hour": {"alerts": [{"kind": "high", "count": 2}], "deliveries": [], "sla_breaches": []},
    }  # fmt: skip
    return {**base, **changes}


def shown(renderable: Any, colour: bool) -> str:
    console = Console(width=120, record=True, force_terminal=colour, no_color=not colour, file=io.StringIO())
    console.print(renderable)
    return console.export_text(styles=colour)


def test_a_frame_shows_every_section_and_colours_health() -> None:
    text = shown(top.render(frame(), interval=5), colour=False)
    for expected in ("every 5s · q quits", "user-manager", "healthy", "unhealthy", "50.00%", "12.5",
                     "to-alert-system", "alerts", "high", "deliveries", "none"):  # fmt: skip
        assert expected in text, expected
    coloured = shown(top.render(frame()), colour=True)
    assert "\x1b[1;31munhealthy" in coloured and "\x1b[32mhealthy" in coloured


def test_an_unreachable_source_is_a_line_naming_it() -> None:
    text = shown(top.render(frame(unreachable=["prometheus: unreachable at http://x (ConnectError)"])), colour=False)
    assert "unreachable: prometheus: unreachable at http://x (ConnectError)" in text.splitlines()[1]
