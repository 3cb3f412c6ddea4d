"""The progress of a collection cycle kept for GET /collector/status (CycleProgress): each
airport's state through the cycle (pending, fetching, done, failed), its source and flights,
the counts, the last cycle's outcome once it is over, and consistent snapshots while the
pool's threads report their calls."""

from __future__ import annotations

import threading
from datetime import date

from flightctl.services.data_collector.collector import CycleProgress
from flightctl.services.data_collector.plan import Fetch

DAY = date(2026, 3, 1)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def calls(*airports: str) -> list[Fetch]:
    """Both directions of each airport, as a cycle fetches a latest complete day."""
    return [Fetch(a, d, DAY, DAY, 0) for a in airports for d in ("arrival", "departure")]


def by_airport(snapshot: dict[str, object]) -> dict[str, dict[str, object]]:
    airports = snapshot["airports"]
    assert isinstance(airports, list)
    return {a["airport"]: a for a in airports}


def test_before_any_cycle_it_says_idle_with_nothing_known() -> None:
    assert CycleProgress().snapshot() == {
        "running": False,
        "phase": None,
        "started_at": None,
        "finished_at": None,
        "elapsed_seconds": None,
        "outcome": None,
        "error": None,
        "airports_total": 0,
        "airports_done": 0,
        "airports_failed": 0,
        "airports": [],
    }


def test_a_cycle_moves_each_airport_from_pending_to_done_or_failed() -> None:
    clock = Clock()
    progress = CycleProgress(clock)
    progress.begin("2026-03-02T10:00:00+00:00")
    planning = progress.snapshot()
    assert (planning["running"], planning["phase"], planning["airports_total"]) == (True, "planning", 0)

    progress.fetching(calls("LIRF", "LIML", "EDDF"))
    start = progress.snapshot()
    assert start["phase"] == "fetching" and start["airports_total"] == 3
    assert {a["state"] for a in by_airport(start).values()} == {"pending"}
    assert [a["airport"] for a in start["airports"]] == ["EDDF", "LIML", "LIRF"]  # type: ignore[index]

    progress.call_started("LIRF")
    progress.call_finished("LIRF", "opensky", 40, None)
    lirf = by_airport(progress.snapshot())["LIRF"]
    assert (lirf["state"], lirf["source"], lirf["flights_stored"]) == ("fetching", None, 40)  # one call of two
    progress.call_started("LIRF")
    progress.call_finished("LIRF", "opensky", 2, None)
    progress.call_started("LIML")
    progress.call_finished("LIML", "mock", 7, "OpenSky answered HTTP 500")
    progress.call_started("LIML")
    progress.call_finished("LIML", "opensky", 3, None)
    progress.call_started("EDDF")
    progress.call_finished("EDDF", "unavailable", 0, "OpenSky timed out")
    clock.now = 102.5
    during = progress.snapshot()
    airports = by_airport(during)
    assert airports["LIRF"] == {
        "airport": "LIRF",
        "state": "done",
        "source": "opensky",
        "flights_stored": 42,
        "error": None,
    }
    assert airports["LIML"] == {
        "airport": "LIML",
        "state": "done",
        "source": "mock",  # one direction simulated: the day is
        "flights_stored": 10,
        "error": "OpenSky answered HTTP 500",
    }
    assert (airports["EDDF"]["state"], airports["EDDF"]["source"]) == ("failed", "unavailable")
    assert airports["EDDF"]["error"] == "OpenSky timed out"
    assert (during["airports_done"], during["airports_failed"], during["elapsed_seconds"]) == (2, 1, 2.5)
    assert during["running"] is True and during["outcome"] is None

    progress.counting()
    assert progress.snapshot()["phase"] == "counting"
    clock.now = 104.0
    progress.end("2026-03-02T10:00:04+00:00", "ok")
    clock.now = 500.0  # the last cycle's figures stay as they were
    after = progress.snapshot()
    assert (after["running"], after["phase"], after["outcome"], after["error"]) == (False, None, "ok", None)
    assert (after["started_at"], after["finished_at"]) == ("2026-03-02T10:00:00+00:00", "2026-03-02T10:00:04+00:00")
    assert after["elapsed_seconds"] == 4.0
    assert by_airport(after) == airports

    progress.begin("2026-03-02T11:00:00+00:00")  # the next cycle starts from nothing
    again = progress.snapshot()
    assert (again["running"], again["outcome"], again["airports"], again["finished_at"]) == (True, None, [], None)


def test_a_call_that_raises_fails_its_airport_and_the_cycle_records_the_error() -> None:
    progress = CycleProgress(Clock())
    progress.begin("2026-03-02T10:00:00+00:00")
    progress.fetching(calls("LIRF", "LIML"))
    progress.call_started("LIRF")
    progress.call_failed("LIRF", "OperationalError: the database went away")
    progress.end("2026-03-02T10:00:01+00:00", "failed", "OperationalError: the database went away")
    after = progress.snapshot()
    airports = by_airport(after)
    assert airports["LIRF"]["state"] == "failed" and airports["LIRF"]["source"] == "unavailable"
    assert airports["LIML"]["state"] == "pending"  # never reached: said so, not shown as done
    assert (after["outcome"], after["error"]) == ("failed", "OperationalError: the database went away")
    assert (after["airports_done"], after["airports_failed"]) == (0, 1)


def test_snapshots_stay_consistent_while_the_pool_reports_calls() -> None:
    airports = [f"A{i:03d}" for i in range(200)]
    progress = CycleProgress()
    progress.begin("2026-03-02T10:00:00+00:00")
    progress.fetching(calls(*airports))
    start = threading.Barrier(5)

    def worker(mine: list[str]) -> None:
        start.wait()
        for airport in mine:
            for _ in range(2):
                progress.call_started(airport)
                progress.call_finished(airport, "opensky", 1, None)

    threads = [threading.Thread(target=worker, args=(airports[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    seen = []
    while any(t.is_alive() for t in threads):
        snapshot = progress.snapshot()
        states = by_airport(snapshot)
        done = [a for a in states.values() if a["state"] == "done"]
        # the counts are those of the airports listed in the same snapshot
        assert snapshot["airports_done"] == len(done)
        assert all(a["flights_stored"] == 2 for a in done)
        assert all(a["flights_stored"] in (0, 1, 2) for a in states.values())
        seen.append(snapshot["airports_done"])
    for thread in threads:
        thread.join()
    final = progress.snapshot()
    assert final["airports_done"] == 200 and final["airports_failed"] == 0
    assert sum(a["flights_stored"] for a in final["airports"]) == 400  # type: ignore[union-attr]
    assert seen == sorted(seen)  # never goes back
