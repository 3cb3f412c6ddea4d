"""GET /collector/status follows a real POST /collect on the platform (the fake OpenSky's
answers held back by gates the test releases): the cycle running, with airports fetching and
pending while every call waits, then with airports done while others are still pending; once
it is over, idle with that cycle's outcome: each airport done, from OpenSky, with the flights
it stored. Every answer matches the service's OpenAPI document."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from flightctl.platform.proc import wait_until
from flightctl.services.common import openapi
from tests.conftest import Platform
from tests.fakes.opensky import Fault, make_flight
from tests.integration.data_collector.conftest import create_user, yesterday

POOL = 4
"""COLLECT_POOL_SIZE on the test platform (the default): the calls a cycle makes at once."""


DOCUMENT = "urn:flightctl:data-collector"


def documented(status: Any) -> None:
    """The answer matches CollectorStatus in the service's OpenAPI document."""
    document = openapi.document("data-collector")
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT}#/components/schemas/CollectorStatus"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(status)]
    assert problems == [], problems


def cycle(dc: httpx.Client) -> dict[str, Any]:
    """GET /collector/status's cycle, the whole answer checked against the document."""
    answer = dc.get("/collector/status")
    assert answer.status_code == 200, answer.text
    documented(answer.json())
    found: dict[str, Any] = answer.json()["cycle"]
    return found


def states(found: dict[str, Any], airports: list[str]) -> dict[str, str]:
    return {a["airport"]: a["state"] for a in found["airports"] if a["airport"] in airports}


def test_the_status_shows_the_cycle_under_way_then_its_outcome(
    platform: Platform, new_airport: Callable[[], str]
) -> None:
    mine = sorted(new_airport() for _ in range(6))
    y = yesterday()
    h = timedelta(hours=1)
    other = "LIRF"
    platform.opensky.add_flights(
        make_flight(f"c{i:05x}", int((y + 3 * h).timestamp()), int((y + (4 + i) * h).timestamp()), other, a, f"PRG{i}")
        for i, a in enumerate(mine)
    )  # one arrival on the latest complete day at each airport
    email = create_user(platform)
    gates = [threading.Event() for _ in range(POOL + 1)]
    answers: list[httpx.Response] = []
    with platform.client("data-collector") as dc:
        for airport in mine:
            assert dc.post("/interests", json={"email": email, "airport_code": airport}).status_code == 201
        before = cycle(dc)
        assert before["running"] is False and before["phase"] is None

        sent = len(platform.opensky.flight_requests())
        # Every worker of the pool held on its first call; once the first is released, that
        # worker makes the next calls (answered at once) and is held again.
        platform.opensky.queue_faults(
            *(Fault(gate=g) for g in gates[:POOL]), Fault(), Fault(), Fault(), Fault(gate=gates[POOL])
        )
        running = threading.Thread(target=lambda: answers.append(dc.post("/collect", timeout=120)))
        running.start()
        try:
            assert platform.opensky.wait_for_flight_requests(sent + POOL, timeout=30)
            held = cycle(dc)
            assert held["running"] is True and held["phase"] == "fetching" and held["outcome"] is None
            assert held["started_at"] is not None and held["finished_at"] is None
            assert held["airports_total"] >= len(mine) and held["airports_done"] == 0
            assert set(states(held, mine)) == set(mine)  # every airport of mine is to be fetched
            assert "pending" in states(held, mine).values()
            assert {a["state"] for a in held["airports"]} <= {"pending", "fetching"}

            gates[0].set()
            assert platform.opensky.wait_for_flight_requests(sent + POOL + 4, timeout=30)

            def some_done() -> bool:
                return cycle(dc)["airports_done"] >= 1

            assert wait_until(some_done, timeout=30), cycle(dc)
            midway = cycle(dc)
            assert midway["running"] is True and midway["phase"] == "fetching"
            shown = {a["state"] for a in midway["airports"]}
            assert {"done", "pending"} <= shown, midway  # the next calls wait for a free worker
            done = [a for a in midway["airports"] if a["state"] == "done"]
            assert all(a["source"] == "opensky" and a["error"] is None for a in done)
            assert midway["airports_done"] == len(done) and midway["airports_failed"] == 0
            assert midway["elapsed_seconds"] >= held["elapsed_seconds"]
        finally:
            for gate in gates:
                gate.set()
            running.join(timeout=120)
            platform.opensky.clear_faults()
        assert [a.status_code for a in answers] == [200], [a.text for a in answers]
        summary = {a["airport"]: a for a in answers[0].json()["airports"]}
        after = cycle(dc)

    assert after["running"] is False and after["phase"] is None and after["outcome"] == "ok"
    assert after["started_at"] == held["started_at"] and after["finished_at"] is not None
    assert after["error"] is None and after["elapsed_seconds"] > 0
    assert after["airports_total"] == held["airports_total"] == after["airports_done"] + after["airports_failed"]
    outcome = {a["airport"]: a for a in after["airports"] if a["airport"] in mine}
    assert set(outcome) == set(mine)
    for airport in mine:
        assert outcome[airport] == {
            "airport": airport,
            "state": "done",
            "source": "opensky",
            "flights_stored": 1,  # its arrival; no departure
            "error": None,
        }
        assert summary[airport]["flights_stored"] == 1  # as POST /collect answered
