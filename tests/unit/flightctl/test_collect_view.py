"""`flightctl collect`'s terminal view of the data-collector's cycle (cli/output.py): a line per
airport once it finishes (each once), the bar's counts from the answers of the cycle under way,
nothing from an idle answer or one that is no answer at all; and the command's collection in
its worker thread, whose answer (or error) is the command's whatever the polls do."""

from __future__ import annotations

import io
import sys
import threading
import types
from typing import Any

import pytest

from flightctl.cli import data
from flightctl.cli.output import CycleSteps, airport_line, finish_progress
from flightctl.clients.api import ApiError, Unreachable


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
    assert simulated.plain == "✓ LIML  mock, 7 flight(s) stored (OpenSky answered HTTP 500)"
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


class FakeCollector:
    """data-collector for `collect`: POST /collect answers once the status was asked ``polls``
    times; each status request raises ``fails`` (or answers the cycle)."""

    def __init__(self, polls: int, fails: Exception | None, answer: Any) -> None:
        self.http = object()
        self.polls, self.fails, self.answer = polls, fails, answer
        self.asked = 0
        self.enough = threading.Event()
        self.keys: list[str | None] = []

    def collect(self, *, key: str | None = None) -> Any:
        self.keys.append(key)
        assert self.enough.wait(30), "the status was never asked"
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def collector_status(self) -> Any:
        self.asked += 1
        if self.asked >= self.polls:
            self.enough.set()
        if self.fails is not None:
            raise self.fails
        return {"cycle": cycle(airport("LIRF", "done", "opensky", 3))}


def follow(fake: FakeCollector, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(data, "POLL_SECONDS", 0.01)
    obj = types.SimpleNamespace(collector=fake)
    try:
        return data._collect_followed(obj, "collecting", "key-1"), err.getvalue()  # type: ignore[arg-type]
    finally:
        finish_progress()


@pytest.mark.parametrize("fails", [Unreachable("data-collector: connection refused"), RuntimeError("bad JSON")])
def test_polls_that_fail_do_not_fail_the_command(monkeypatch: pytest.MonkeyPatch, fails: Exception) -> None:
    fake = FakeCollector(polls=3, fails=fails, answer={"airports": []})
    result, shown = follow(fake, monkeypatch)
    assert result == {"airports": []} and fake.keys == ["key-1"]
    assert fake.asked >= 3 and "LIRF" not in shown


def test_the_answer_of_the_collection_decides_and_the_airports_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCollector(polls=2, fails=None, answer={"airports": [{"airport": "LIRF"}]})
    result, shown = follow(fake, monkeypatch)
    assert result == {"airports": [{"airport": "LIRF"}]}
    assert shown.count("✓ LIRF  opensky, 3 flight(s) stored") == 1
    refused = FakeCollector(
        polls=2, fails=None, answer=ApiError("data-collector", 409, "a collection cycle is already running")
    )
    with pytest.raises(ApiError, match="already running"):
        follow(refused, monkeypatch)
