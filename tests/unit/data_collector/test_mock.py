"""The simulated world behaves like data: deterministic on an absolute grid, consistent between
the two ends of a flight and the live state vectors, and sized by airport."""

from __future__ import annotations

from flightctl.services.data_collector.mock import (
    FLIGHTS_PER_HOUR,
    HUBS,
    WEIGHTS,
    World,
    mock_flights,
    mock_states,
    size_class,
    world,
)

DAY = 86400
D = 1_795_651_200  # 2026-11-26T00:00:00Z


def keys(flights: list[dict]) -> set[tuple[str, int]]:  # type: ignore[type-arg]
    return {(f["icao24"], f["firstSeen"]) for f in flights}


def test_the_same_window_gives_the_same_flights_however_it_is_cut() -> None:
    whole = mock_flights("LIRF", "departure", D, D + DAY - 1)
    assert whole == mock_flights("LIRF", "departure", D, D + DAY - 1)
    halves = mock_flights("LIRF", "departure", D, D + 43199) + mock_flights("LIRF", "departure", D + 43200, D + DAY - 1)
    assert keys(halves) == keys(whole) and len(halves) == len(whole)
    fresh = World(world_airports())  # another process: the same world
    assert keys(fresh.departures("LIRF", D, D + DAY - 1)) == keys(whole)
    assert all(D <= f["firstSeen"] < D + DAY and f["estDepartureAirport"] == "LIRF" for f in whole)
    arrivals = mock_flights("LIRF", "arrival", D, D + DAY - 1)
    assert all(D <= f["lastSeen"] < D + DAY and f["estArrivalAirport"] == "LIRF" for f in arrivals)


def world_airports() -> dict[str, dict]:  # type: ignore[type-arg]
    import airportsdata

    return airportsdata.load("ICAO")


def test_a_flight_from_a_to_b_is_a_departure_at_a_and_an_arrival_at_b() -> None:
    departures = mock_flights("EGLL", "departure", D, D + 6 * 3600)
    assert len(departures) > 50
    for flight in departures[:40]:
        landed = flight["lastSeen"]
        there = mock_flights(flight["estArrivalAirport"], "arrival", landed, landed)
        assert flight in there
        assert flight["lastSeen"] > flight["firstSeen"]
    # and the other way round: an arrival at a regional airport left from where it says
    arrivals = mock_flights("LIPE", "arrival", D, D + 7 * DAY)
    assert arrivals
    for flight in arrivals:
        left = flight["firstSeen"]
        assert flight in mock_flights(flight["estDepartureAirport"], "departure", left, left)


def test_volumes_follow_the_documented_size_rule() -> None:
    w = world()
    assert size_class("LIRF", {"iata": "FCO"}) == "hub" and "LIRF" in HUBS
    assert size_class("LIPE", {"iata": "BLQ"}) == "regional"
    assert size_class("LIXX", {"iata": ""}) == "airfield"
    week = (D, D + 7 * DAY - 1)

    def per_day(code: str) -> float:
        return (len(w.arrivals(code, *week)) + len(w.departures(code, *week))) / 7

    hub, regional = per_day("LIRF"), per_day("LIPE")
    assert abs(hub - w.expected_movements_per_day("LIRF")) < 0.1 * w.expected_movements_per_day("LIRF")
    assert 800 < hub < 1200 and 10 < regional < 45 and hub > 20 * regional
    expected = 2 * 24 * FLIGHTS_PER_HOUR * WEIGHTS["airfield"] / w.total_weight
    airfields = [c for c in w.codes if w.size[w.index[c]] == "airfield"][:200]
    average = sum(len(w.departures(c, *week)) + len(w.arrivals(c, *week)) for c in airfields) / 200 / 7
    assert abs(average - expected) < 0.35 * expected


def test_live_state_vectors_are_the_same_flights_around_their_airports() -> None:
    at = D + 15 * 3600 + 7
    box = (41.55, 11.95, 42.05, 12.55)  # around LIRF
    answer = mock_states(*box, at)
    assert answer["time"] == at - 7 and answer == mock_states(*box, at + 2)  # a 10-second grid
    states = answer["states"]
    assert states and all(len(s) == 18 for s in states)
    assert all(box[0] <= s[6] <= box[2] and box[1] <= s[5] <= box[3] for s in states)
    icao = {s[0] for s in states}
    around = mock_flights("LIRF", "departure", at - 4 * 3600, at + 3600) + mock_flights(
        "LIRF", "arrival", at - 3600, at + 4 * 3600
    )
    from_lirf = {f["icao24"] for f in around}
    assert icao & from_lirf, "the aircraft near LIRF are LIRF's own flights"
    on_ground = [s for s in states if s[8]]
    airborne = [s for s in states if not s[8]]
    assert on_ground and airborne
    assert all(s[7] is None for s in on_ground) and all(0 < s[7] <= 11000 for s in airborne)
