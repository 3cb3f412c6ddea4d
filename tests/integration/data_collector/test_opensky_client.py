"""The OpenSky client against the fake OpenSky on 127.0.0.1 (real HTTP, no platform needed):
token flow, 401 refresh, 404 as no flights, window splitting, 429 and the circuit breaker.
Time is an injected clock: nothing waits for a reset or a retry-after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from flightctl.services.data_collector.opensky import (
    Circuit,
    CircuitOpen,
    OpenSkyClient,
    OpenSkyError,
    RateLimited,
    Rejected,
)
from tests.fakes.clock import FakeClock
from tests.fakes.opensky import FakeOpenSky, Fault, make_flight, make_state

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86400
ID, SECRET = "dc-client", "dc-secret"


@dataclass
class Rig:
    fake: FakeOpenSky
    clock: FakeClock
    client: OpenSkyClient
    circuit: Circuit
    outcomes: list[str] = field(default_factory=list)
    remaining: list[int] = field(default_factory=list)


def build(
    fake: FakeOpenSky,
    *,
    credentials: bool = True,
    fail_max: int = 3,
    reset: float = 60.0,
    timeout: float = 5.0,
) -> Rig:
    clock = FakeClock()
    circuit = Circuit(fail_max, reset, clock=clock)
    outcomes: list[str] = []
    remaining: list[int] = []
    client = OpenSkyClient(
        api_url=fake.api_url,
        token_url=fake.token_url,
        client_id=ID if credentials else None,
        client_secret=SECRET if credentials else None,
        circuit=circuit,
        timeout=timeout,
        clock=clock,
        on_remaining=remaining.append,
        on_call=outcomes.append,
    )
    return Rig(fake, clock, client, circuit, outcomes, remaining)


@pytest.fixture
def fake() -> Iterator[FakeOpenSky]:
    with FakeOpenSky(client_id=ID, client_secret=SECRET) as server:
        server.add_flights(
            [
                make_flight("3c6444", T0 - 3600, T0 + 100, "EDDF", "LIRF", "DLH4KA"),
                make_flight("4ca7b8", T0 + 200, T0 + 7200, "LIRF", "EGLL", "EIN123"),
                make_flight("a0b1c2", T0 + 3 * DAY, T0 + 3 * DAY + 3600, "EGLL", "LIRF", "BAW1"),
            ]
        )
        yield server


@pytest.fixture
def rig(fake: FakeOpenSky) -> Iterator[Rig]:
    built = build(fake)
    yield built
    built.client.close()


def test_token_is_fetched_with_client_credentials_cached_and_refreshed_before_expiry(rig: Rig) -> None:
    assert [f["icao24"] for f in rig.client.arrivals("LIRF", T0, T0 + DAY)] == ["3c6444"]
    assert [f["icao24"] for f in rig.client.departures("LIRF", T0, T0 + DAY)] == ["4ca7b8"]
    token_calls = [r for r in rig.fake.requests if r.method == "POST"]
    assert len(token_calls) == 1
    assert token_calls[0].form == {"grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET}
    first_token = rig.fake.flight_requests()[0].headers["authorization"]
    assert first_token.startswith("Bearer ") and rig.fake.flight_requests()[1].headers["authorization"] == first_token

    rig.clock.advance(1800 - 61)  # the token lives 1800 s; still more than a minute left
    rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.fake.token_requests == 1
    rig.clock.advance(2)  # within the last minute: refreshed before OpenSky would refuse it
    rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.fake.token_requests == 2
    assert rig.fake.flight_requests()[-1].headers["authorization"] != first_token
    assert "unauthorized_retry" not in rig.outcomes


def test_concurrent_first_calls_share_one_token(rig: Rig) -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            rig.client.arrivals("LIRF", T0, T0 + DAY)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == []
    assert rig.fake.token_requests == 1
    assert len({r.headers["authorization"] for r in rig.fake.flight_requests()}) == 1


def test_a_401_fetches_a_new_token_and_retries_once(rig: Rig) -> None:
    rig.client.arrivals("LIRF", T0, T0 + DAY)
    rig.fake.revoke_tokens()  # OpenSky no longer accepts the cached token
    assert [f["icao24"] for f in rig.client.arrivals("LIRF", T0, T0 + DAY)] == ["3c6444"]
    assert rig.fake.token_requests == 2
    assert rig.outcomes.count("unauthorized_retry") == 1
    statuses = [r.headers["authorization"] for r in rig.fake.flight_requests()]
    assert len(statuses) == 3 and statuses[1] == statuses[0] and statuses[2] != statuses[0]


def test_a_second_401_is_not_retried_again_and_does_not_open_the_circuit() -> None:
    with FakeOpenSky(client_id=ID, client_secret=SECRET, token_ttl=0) as fake:  # every token is dead
        rig = build(fake, fail_max=1)
        with pytest.raises(Rejected):
            rig.client.arrivals("LIRF", T0, T0 + DAY)
        assert len(fake.flight_requests()) == 2  # the call and exactly one retry
        assert rig.circuit.state == "closed"


def test_wrong_credentials_are_refused_without_opening_the_circuit(fake: FakeOpenSky) -> None:
    fake.client_secret = "rotated"
    rig = build(fake, fail_max=1)
    for _ in range(3):
        with pytest.raises(Rejected, match="token endpoint answered 401"):
            rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.circuit.state == "closed" and fake.flight_requests() == []


def test_without_credentials_calls_are_anonymous(fake: FakeOpenSky) -> None:
    rig = build(fake, credentials=False)
    assert not rig.client.authenticated
    assert len(rig.client.arrivals("LIRF", T0, T0 + DAY)) == 1
    assert fake.token_requests == 0
    assert "authorization" not in fake.flight_requests()[0].headers


def test_404_is_zero_flights_and_the_remaining_credits_are_reported(rig: Rig) -> None:
    rig.fake.rate_limit_remaining = 1234
    assert rig.client.arrivals("KJFK", T0, T0 + DAY) == []  # the fake answers 404, empty body
    assert rig.outcomes == ["empty"] and rig.remaining == [1204]  # two day partitions: 30 credits
    assert rig.circuit.state == "closed"
    answer = rig.client.flights("departure", "LIRF", T0, T0 + DAY - 1)
    assert [f["icao24"] for f in answer.body] == ["4ca7b8"] and answer.remaining == 1174


def test_states_are_fetched_for_a_box_and_a_429_blocks_only_that_family(rig: Rig) -> None:
    rig.fake.set_states(
        [make_state("a00001", 41.80, 12.25, on_ground=True), make_state("a00002", 48.35, 11.78, altitude=9000.0)]
    )
    answer = rig.client.states((41.5, 12.0, 42.0, 12.5))
    assert [s[0] for s in answer.body["states"]] == ["a00001"] and isinstance(answer.body["time"], int)
    assert answer.remaining == 3999
    (request,) = rig.fake.state_requests()
    assert request.query == {"lamin": "41.5", "lomin": "12.0", "lamax": "42.0", "lomax": "12.5"}
    rig.fake.set_states([])
    assert rig.client.states((0, 0, 1, 1)).body["states"] == []  # OpenSky's null states: none
    rig.fake.queue_state_faults(Fault(status=429, retry_after=300))
    with pytest.raises(RateLimited) as raised:
        rig.client.states(None)
    assert raised.value.seconds == 300
    with pytest.raises(RateLimited):
        rig.client.states(None)  # blocked without a call
    assert len(rig.fake.state_requests()) == 3
    assert rig.client.flights("arrival", "LIRF", T0, T0 + DAY - 1).body  # flights are another family
    rig.clock.advance(300)
    assert rig.client.states(None).body["states"] == []


def test_a_window_over_48_hours_is_split_into_contiguous_calls(rig: Rig) -> None:
    flights = rig.client.arrivals("LIRF", T0 - DAY, T0 + 4 * DAY)  # 5 days
    assert sorted(f["icao24"] for f in flights) == ["3c6444", "a0b1c2"]
    windows = [(int(r.query["begin"]), int(r.query["end"])) for r in rig.fake.flight_requests()]
    assert windows == [(T0 - DAY, T0 + DAY), (T0 + DAY, T0 + 3 * DAY), (T0 + 3 * DAY, T0 + 4 * DAY)]
    assert all(r.query["airport"] == "LIRF" for r in rig.fake.flight_requests())


def test_429_blocks_every_call_until_the_retry_header_has_passed(rig: Rig) -> None:
    rig.circuit = Circuit(1, 60, clock=rig.clock)  # even one counted failure would open it
    rig.client.circuit = rig.circuit
    rig.fake.queue_faults(Fault(status=429, retry_after=120))
    with pytest.raises(RateLimited) as raised:
        rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert raised.value.retry_at == rig.clock.now + 120
    sent = len(rig.fake.flight_requests())
    rig.clock.advance(119)
    with pytest.raises(RateLimited):
        rig.client.departures("LIRF", T0, T0 + DAY)
    assert len(rig.fake.flight_requests()) == sent  # no call before the retry time
    rig.clock.advance(1)
    assert len(rig.client.departures("LIRF", T0, T0 + DAY)) == 1
    assert rig.circuit.state == "closed"
    assert rig.outcomes == ["rate_limited", "rate_limited", "ok"]


def test_5xx_opens_the_circuit_which_closes_again_after_the_reset_time(rig: Rig) -> None:
    rig.fake.queue_faults(Fault(status=500), Fault(status=502), Fault(status=503))
    for _ in range(3):
        with pytest.raises(OpenSkyError) as raised:
            rig.client.arrivals("LIRF", T0, T0 + DAY)
        assert not isinstance(raised.value, CircuitOpen)
    assert rig.circuit.state == "open"
    sent = len(rig.fake.flight_requests())
    rig.clock.advance(59)
    with pytest.raises(CircuitOpen):
        rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert len(rig.fake.flight_requests()) == sent  # open: OpenSky is not called at all
    rig.clock.advance(1)
    assert len(rig.client.arrivals("LIRF", T0, T0 + DAY)) == 1  # the trial call succeeds
    assert rig.circuit.state == "closed"
    assert rig.outcomes == ["http_500", "http_502", "http_503", "circuit_open", "ok"]


def test_a_failed_trial_call_opens_the_circuit_again_at_once(rig: Rig) -> None:
    rig.fake.queue_faults(*[Fault(status=500)] * 4)
    for _ in range(3):
        with pytest.raises(OpenSkyError):
            rig.client.arrivals("LIRF", T0, T0 + DAY)
    rig.clock.advance(60)
    with pytest.raises(OpenSkyError):
        rig.client.arrivals("LIRF", T0, T0 + DAY)  # half-open trial fails
    assert rig.circuit.state == "open"
    with pytest.raises(CircuitOpen):
        rig.client.arrivals("LIRF", T0, T0 + DAY)
    rig.clock.advance(60)
    assert len(rig.client.arrivals("LIRF", T0, T0 + DAY)) == 1
    assert rig.circuit.state == "closed"


def test_timeouts_open_the_circuit(fake: FakeOpenSky) -> None:
    rig = build(fake, fail_max=2, timeout=0.2)
    fake.queue_faults(Fault(delay=2), Fault(delay=2))
    for _ in range(2):
        with pytest.raises(OpenSkyError, match="timed out"):
            rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.circuit.state == "open"
    assert rig.outcomes == ["timeout", "timeout"]
    with pytest.raises(CircuitOpen):
        rig.client.arrivals("LIRF", T0, T0 + DAY)


def test_only_consecutive_real_failures_count(rig: Rig) -> None:
    # 404 (an answer), 429 (quota) and 400 (our request) never count; an answer resets the count
    rig.fake.queue_faults(Fault(status=500), Fault(status=500), Fault(status=400), Fault(status=400))
    for _ in range(4):
        with pytest.raises(OpenSkyError):
            rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.client.arrivals("KJFK", T0, T0 + DAY) == []
    rig.fake.queue_faults(Fault(status=500), Fault(status=500))
    for _ in range(2):
        with pytest.raises(OpenSkyError):
            rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.circuit.state == "closed"  # 2 consecutive failures < fail_max 3
    rig.fake.queue_faults(Fault(status=500))
    with pytest.raises(OpenSkyError):
        rig.client.arrivals("LIRF", T0, T0 + DAY)
    assert rig.circuit.state == "open"
