"""`flightctl collect`'s terminal view of the data-collector's cycle (cli/output.py): a line per
airport once it finishes (each once), the bar's counts from the answers of the cycle under way,
nothing from an idle answer or one that is no answer at all."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from flightctl.cli.output import CycleSteps, airport_line


def airport(
    name: str, state: str, source: str | None = None, stored: int = 0, error: str | None = None
) -> dict[str, Any]:
    return {"airport": name, "state": state, "source": source, "flights_stored": stored, "error": error}


def cycle(
    *airports: dict[str, Any], running: bool = True, started: str | None = "2026-03-02T10:00:00+00:00"
) -> dict[str, Any]:
    return {
        "running": running,
        "phase": "fetching" if running else None,
        "started_at": started,
        "airports": list(airports),
    }


def test_an_airport_line_says_where_its_flights_came_from_or_why_it_failed() -> None:
    done = airport_line(airport("LIRF", "done", "opensky", 42))
    assert done.plain == "✓ LIRF  opensky, 42 flight(s) stored"
    simulated = airport_line(airport("LIML", "done", "mock", 7, "OpenSky answered HTTP 500"))
    assert simulated.plain == "✓ LIML  mock, 7 flight(s) stored (OpenSky: OpenSky answered HTTP 500)"
    failed = airport_line(airport("EDDF", "failed", "unavailable", 0, "OpenSky timed out"))
    assert failed.plain == "✗ EDDF  failed: OpenSky timed out"
    assert {str(span.style) for span in failed.spans} >= {"bold red", "red"}
    assert {str(span.style) for span in done.spans} >= {"green", "bold"}


def test_each_finished_airport_is_shown_once_and_idle_answers_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    view = CycleSteps("collecting")
    try:
        task = view.progress.tasks[0]
        for nothing in (None, "not json", {"cycle": 1}, cycle(running=False, started="2026-03-02T09:00:00+00:00")):
            view.follow(nothing)  # no cycle under way here: the spinner alone
        assert view.started_at is None and "of" not in task.fields
        view.follow(cycle(airport("LIRF", "pending"), airport("LIML", "fetching")))
        assert (task.fields["of"], task.fields["done"], task.fields["failed"]) == (2, 0, 0)
        view.follow(cycle(airport("LIRF", "done", "opensky", 3), airport("LIML", "fetching")))
        view.follow(cycle(airport("LIRF", "done", "opensky", 3), airport("LIML", "failed", "unavailable", 0, "gone")))
        assert (task.fields["done"], task.fields["failed"]) == (1, 1)
        over = cycle(airport("LIRF", "done", "opensky", 3), airport("LIML", "failed", "unavailable", 0, "gone"))
        view.follow({**over, "running": False})  # the followed cycle, now over: still its own
        assert not task.finished  # the step ends with the command's answer, not the poll
    finally:
        view.stop()
    shown = err.getvalue()
    assert shown.count("✓ LIRF  opensky, 3 flight(s) stored") == 1
    assert shown.count("✗ LIML  failed: gone") == 1
    assert shown.index("LIRF") < shown.index("LIML")
