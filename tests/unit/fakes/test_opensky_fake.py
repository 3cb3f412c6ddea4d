"""Self-tests of tests.fakes.opensky, talking to it over real HTTP with urllib."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.opensky import (
    FLIGHT_FIELDS,
    STATE_FIELDS,
    FakeOpenSky,
    Fault,
    flights_cost,
    make_flight,
    make_state,
    states_cost,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
DAY = 86400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def call(
    url: str,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> tuple[int, dict[str, str], bytes]:
    """GET (or POST form ``data``) and return status, headers, body; errors are answers too."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), err.read()


def flights_url(fake: FakeOpenSky, kind: str, airport: str, begin: Any, end: Any) -> str:
    query = urllib.parse.urlencode({"airport": airport, "begin": begin, "end": end})
    return f"{fake.api_url}/flights/{kind}?{query}"


def get_token(fake: FakeOpenSky) -> str:
    status, _, body = call(
        fake.token_url,
        {
            "grant_type": "client_credentials",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
        },
    )
    assert status == 200
    token = json.loads(body)["access_token"]
    assert isinstance(token, str)
    return token


@pytest.fixture
def fake() -> Iterator[FakeOpenSky]:
    with FakeOpenSky() as server:
        server.add_flights(
            [
                make_flight("3c6444", T0 - 3600, T0 + 100, "EDDF", "LIRF", "DLH4KA"),
                make_flight("4ca7b8", T0 + 200, T0 + 7200, "LIRF", "EGLL", "EIN123"),
                make_flight("abc123", T0 + 300, T0 + 5000, "LIRF", None),
                make_flight("def456", T0 - 9 * DAY, T0 - 8 * DAY, "KJFK", "LIRF"),
            ]
        )
        yield server


def test_urls_and_port() -> None:
    with FakeOpenSky() as fake:
        assert fake.port > 0
        assert fake.api_url == f"http://127.0.0.1:{fake.port}/api"
        assert fake.token_url == (
            f"http://127.0.0.1:{fake.port}/auth/realms/opensky-network/protocol/openid-connect/token"
        )


def test_make_flight_has_every_real_field() -> None:
    flight = make_flight("3C6444", T0, T0 + 60, "EDDF", "LIRF", "DLH4KA")
    assert tuple(flight) == FLIGHT_FIELDS
    assert flight["icao24"] == "3c6444"
    assert flight["callsign"] == "DLH4KA  "
    assert isinstance(flight["estArrivalAirportHorizDistance"], int)
    assert make_flight("a", T0, T0 + 1)["callsign"] is None


def test_token_issued_for_right_credentials(fake: FakeOpenSky) -> None:
    status, headers, body = call(
        fake.token_url,
        {
            "grant_type": "client_credentials",
            "client_id": "test-client",
            "client_secret": "test-secret",
        },
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 1800
    assert answer["refresh_expires_in"] == 0
    assert answer["not-before-policy"] == 0
    assert answer["scope"] == "profile email"
    assert len(answer["access_token"]) > 20
    assert fake.token_requests == 1
    assert fake.tokens == [answer["access_token"]]
    assert fake.requests[0].form["grant_type"] == "client_credentials"


def test_token_refused_for_wrong_credentials_or_grant(fake: FakeOpenSky) -> None:
    status, _, body = call(
        fake.token_url,
        {"grant_type": "client_credentials", "client_id": "test-client", "client_secret": "nope"},
    )
    assert status == 401
    assert json.loads(body) == {
        "error": "unauthorized_client",
        "error_description": "Invalid client or Invalid client credentials",
    }
    status, _, body = call(
        fake.token_url,
        {"grant_type": "password", "client_id": "test-client", "client_secret": "test-secret"},
    )
    assert status == 400
    assert json.loads(body)["error"] == "unsupported_grant_type"
    assert fake.token_requests == 2
    assert fake.tokens == []


def test_token_accepts_http_basic_client_auth(fake: FakeOpenSky) -> None:
    basic = "Basic dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ="  # test-client:test-secret
    status, _, _ = call(fake.token_url, {"grant_type": "client_credentials"}, {"Authorization": basic})
    assert status == 200


def test_arrivals_and_departures_filtered_by_airport_and_time(fake: FakeOpenSky) -> None:
    status, headers, body = call(flights_url(fake, "arrival", "lirf", T0, T0 + DAY))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert [f["icao24"] for f in json.loads(body)] == ["3c6444"]
    assert headers["X-Rate-Limit-Remaining"] == "370"  # anonymous: 400 a day, 30 for two partitions

    status, headers, body = call(flights_url(fake, "departure", "LIRF", T0, T0 + DAY))
    assert status == 200
    assert [f["icao24"] for f in json.loads(body)] == ["4ca7b8", "abc123"]
    assert headers["X-Rate-Limit-Remaining"] == "340"
    assert set(json.loads(body)[0]) == set(FLIGHT_FIELDS)

    # bounds are inclusive: lastSeen == end and firstSeen == begin both count
    status, _, body = call(flights_url(fake, "arrival", "LIRF", T0 - DAY, T0 + 100))
    assert [f["icao24"] for f in json.loads(body)] == ["3c6444"]
    status, _, body = call(flights_url(fake, "departure", "LIRF", T0 + 300, T0 + 400))
    assert [f["icao24"] for f in json.loads(body)] == ["abc123"]


def test_no_flights_is_404_with_empty_body(fake: FakeOpenSky) -> None:
    status, headers, body = call(flights_url(fake, "arrival", "KSFO", T0, T0 + DAY))
    assert status == 404
    assert body == b""
    assert headers["Content-Length"] == "0"
    assert headers["X-Rate-Limit-Remaining"] == "370"  # an empty answer costs as much


@pytest.mark.parametrize(
    ("airport", "begin", "end"),
    [
        ("", T0, T0 + 60),
        ("LIRF", "yesterday", T0 + 60),
        ("LIRF", T0, ""),
        ("LIRF", T0, T0),
        ("LIRF", T0 + 60, T0),
        ("LIRF", T0, T0 + 2 * DAY + 1),
    ],
)
def test_bad_parameters_are_400(fake: FakeOpenSky, airport: str, begin: Any, end: Any) -> None:
    status, _, _ = call(flights_url(fake, "arrival", airport, begin, end))
    assert status == 400
    assert fake.credits(anonymous=True) == 400


def test_missing_parameter_is_400_and_two_days_is_allowed(fake: FakeOpenSky) -> None:
    status, _, _ = call(f"{fake.api_url}/flights/arrival?airport=LIRF&begin={T0}")
    assert status == 400
    status, _, _ = call(flights_url(fake, "arrival", "LIRF", T0, T0 + 2 * DAY))
    assert status == 200


def test_anonymous_allowed_unless_required() -> None:
    with FakeOpenSky(require_auth=True) as fake:
        status, headers, body = call(flights_url(fake, "arrival", "LIRF", T0, T0 + 60))
        assert status == 401
        assert headers["WWW-Authenticate"] == "Bearer"
        assert body == b""
        token = get_token(fake)
        auth = {"Authorization": f"Bearer {token}"}
        status, _, _ = call(flights_url(fake, "arrival", "LIRF", T0, T0 + 60), headers=auth)
        assert status == 404


def test_unknown_or_revoked_token_is_401(fake: FakeOpenSky) -> None:
    url = flights_url(fake, "arrival", "LIRF", T0, T0 + DAY)
    status, headers, body = call(url, headers={"Authorization": "Bearer forged"})
    assert (status, headers["WWW-Authenticate"], body) == (401, "Bearer", b"")

    token = get_token(fake)
    status, _, _ = call(url, headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    fake.revoke_tokens()
    status, _, _ = call(url, headers={"Authorization": f"Bearer {token}"})
    assert status == 401
    new_token = get_token(fake)
    status, _, _ = call(url, headers={"Authorization": f"Bearer {new_token}"})
    assert status == 200
    assert fake.token_requests == 2


def test_expired_token_is_401() -> None:
    with FakeOpenSky(token_ttl=0) as fake:
        token = get_token(fake)
        url = flights_url(fake, "arrival", "LIRF", T0, T0 + DAY)
        status, _, _ = call(url, headers={"Authorization": f"Bearer {token}"})
        assert status == 401


def test_faults_apply_in_order_to_flights_calls_only(fake: FakeOpenSky) -> None:
    fake.queue_faults(Fault(status=429, retry_after=7), Fault(status=500), Fault(status=503))
    get_token(fake)  # token calls do not consume faults
    url = flights_url(fake, "arrival", "LIRF", T0, T0 + DAY)

    status, headers, body = call(url)
    assert (status, headers["X-Rate-Limit-Retry-After-Seconds"], body) == (429, "7", b"")
    status, _, body = call(url)
    assert status == 500
    assert body
    status, _, _ = call(url)
    assert status == 503
    assert fake.pending_faults == 0
    status, headers, _ = call(url)
    assert status == 200
    assert headers["X-Rate-Limit-Remaining"] == "370"  # faulted calls cost nothing


def test_delay_fault_makes_a_client_time_out(fake: FakeOpenSky) -> None:
    fake.queue_faults(Fault(delay=0.5))
    url = flights_url(fake, "arrival", "LIRF", T0, T0 + DAY)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(url, timeout=0.1)
    assert len(fake.flight_requests()) == 1


def test_delay_fault_then_normal_answer(fake: FakeOpenSky) -> None:
    fake.queue_faults(Fault(delay=0.2))
    started = time.monotonic()
    status, _, _ = call(flights_url(fake, "arrival", "LIRF", T0, T0 + DAY))
    assert status == 200
    assert time.monotonic() - started >= 0.2


def test_gate_fault_holds_the_answer_until_released(fake: FakeOpenSky) -> None:
    gate = threading.Event()
    fake.queue_faults(Fault(gate=gate, status=503))
    result: list[int] = []
    url = flights_url(fake, "arrival", "LIRF", T0, T0 + DAY)
    client = threading.Thread(target=lambda: result.append(call(url, timeout=10)[0]))
    client.start()
    assert fake.wait_for_flight_requests(1, timeout=2)
    client.join(timeout=0.2)
    assert client.is_alive() and result == []  # still held
    gate.set()
    client.join(timeout=5)
    assert result == [503]


def test_stop_cuts_a_delay_short(fake: FakeOpenSky) -> None:
    fake.queue_faults(Fault(delay=30))
    result: list[int] = []
    url = flights_url(fake, "arrival", "LIRF", T0, T0 + DAY)
    client = threading.Thread(target=lambda: result.append(call(url, timeout=10)[0]))
    started = time.monotonic()
    client.start()
    assert fake.wait_for_flight_requests(1, timeout=2)
    fake.stop()
    client.join(timeout=5)
    assert result == [200]
    assert time.monotonic() - started < 2


def test_requests_are_recorded(fake: FakeOpenSky) -> None:
    assert not fake.wait_for_requests(1, timeout=0.01)
    get_token(fake)
    call(flights_url(fake, "departure", "LIRF", T0, T0 + 60), headers={"X-Trace": "abc"})
    assert fake.wait_for_requests(2, timeout=1)
    token_req, flights_req = fake.requests
    assert token_req.method == "POST"
    assert token_req.path.endswith("/openid-connect/token")
    assert flights_req.method == "GET"
    assert flights_req.path == "/api/flights/departure"
    assert flights_req.query == {"airport": "LIRF", "begin": str(T0), "end": str(T0 + 60)}
    assert flights_req.headers["x-trace"] == "abc"
    assert flights_req.time > 0
    assert fake.flight_requests() == [flights_req]


def test_restart_reuses_the_port() -> None:
    fake = FakeOpenSky().start()
    try:
        port = fake.port
        fake.stop()
        with pytest.raises(urllib.error.URLError):
            call(flights_url(fake, "arrival", "LIRF", T0, T0 + 60), timeout=1)
        fake.start()
        assert fake.port == port
        assert call(flights_url(fake, "arrival", "LIRF", T0, T0 + 60))[0] == 404
    finally:
        fake.stop()


def test_standalone_process(tmp_path: Path) -> None:
    flights_file = tmp_path / "flights.json"
    flights_file.write_text(json.dumps([make_flight("3c6444", T0, T0 + 60, "EDDF", "LIRF")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.opensky",
            "--port",
            "0",
            "--flights",
            str(flights_file),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        assert urls["token_url"].endswith("/protocol/openid-connect/token")
        query = urllib.parse.urlencode({"airport": "LIRF", "begin": T0, "end": T0 + 60})
        status, _, body = call(f"{urls['api_url']}/flights/arrival?{query}")
        assert status == 200
        assert json.loads(body)[0]["icao24"] == "3c6444"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# -- credits, the nightly batch and the state vectors -------------------------------------------


class Clock:
    """The fake's injected wall clock (Unix seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def states_url(fake: FakeOpenSky, **params: Any) -> str:
    query = urllib.parse.urlencode(params, doseq=True)
    return f"{fake.api_url}/states/all" + (f"?{query}" if query else "")


def bearer(fake: FakeOpenSky) -> dict[str, str]:
    return {"Authorization": f"Bearer {get_token(fake)}"}


def test_flight_calls_cost_what_opensky_charges_for_their_window() -> None:
    clock = Clock(T0 + 10 * DAY + 12 * 3600)  # noon
    with FakeOpenSky(clock=clock) as fake:
        auth = bearer(fake)
        now = int(clock.now)

        def cost(begin: int, end: int) -> int:
            before = fake.credits()
            status, headers, _ = call(flights_url(fake, "arrival", "LIRF", begin, end), headers=auth)
            assert status == 404 and int(headers["X-Rate-Limit-Remaining"]) == fake.credits()
            return before - fake.credits()

        assert cost(now - 3600, now) == 4  # live: under a day, within the last 24 hours
        day = T0 + 8 * DAY
        assert cost(day, day + DAY - 1) == 30  # one whole past day: one partition
        assert cost(day, day + 2 * DAY - 1) == 30  # two partitions
        assert cost(day + 3600, day + 2 * DAY) == 180  # three partitions: 60 each
    assert flights_cost(0, 10 * DAY - 1, 100 * DAY) == 600
    assert flights_cost(0, 11 * DAY - 1, 100 * DAY) == 11 * 480
    assert flights_cost(0, 26 * DAY - 1, 100 * DAY) == 26 * 960


def test_each_family_and_caller_kind_has_its_own_daily_bucket() -> None:
    clock = Clock(T0 + 5 * DAY)
    with FakeOpenSky(clock=clock, credits_per_day=1000, anonymous_credits_per_day=100) as fake:
        auth = bearer(fake)
        call(flights_url(fake, "arrival", "LIRF", T0, T0 + DAY - 1), headers=auth)
        call(states_url(fake, lamin=40, lomin=10, lamax=42, lomax=13), headers=auth)
        call(states_url(fake))  # anonymous, no box: 4
        assert fake.credits("flights") == 970 and fake.credits("states") == 999
        assert fake.credits("flights", anonymous=True) == 100 and fake.credits("states", anonymous=True) == 96


def test_past_the_budget_a_call_is_429_until_the_refill_at_midnight() -> None:
    clock = Clock(T0 + 5 * DAY + 22 * 3600)  # 22:00 UTC
    with FakeOpenSky(clock=clock, credits_per_day=65) as fake:
        auth = bearer(fake)
        url = flights_url(fake, "departure", "LIRF", T0, T0 + DAY - 1)
        assert call(url, headers=auth)[0] == 404  # no flights: still 30 credits
        status, headers, _ = call(url, headers=auth)
        assert (status, headers["X-Rate-Limit-Remaining"]) == (404, "5")
        status, headers, body = call(url, headers=auth)
        assert (status, headers["X-Rate-Limit-Retry-After-Seconds"], body) == (429, "7200", b"")
        assert fake.credits() == 5 and fake.too_many == 1  # a refused call costs nothing
        live = flights_url(fake, "arrival", "LIRF", int(clock.now) - 60, int(clock.now))
        status, headers, _ = call(live, headers=auth)
        assert (status, headers["X-Rate-Limit-Remaining"]) == (404, "1")  # a live call (4) still fits
        clock.now += 7200  # midnight: a new day, a full bucket
        status, headers, _ = call(url, headers=auth)
        assert (status, headers["X-Rate-Limit-Remaining"]) == (404, "35")
        fake.set_credits(3)
        assert call(url, headers=auth)[0] == 429


def test_the_nightly_batch_hides_todays_flights() -> None:
    clock = Clock(T0 + 3600)  # 01:00 on the day of the flights below
    with FakeOpenSky(clock=clock, nightly_batch=True) as fake:
        fake.add_flights(
            [
                make_flight("aaa001", T0 - 7200, T0 - 3600, "EDDF", "LIRF"),  # yesterday
                make_flight("aaa002", T0 - 1800, T0 + 1800, "LIRF", "EGLL"),  # left yesterday, landed today
                make_flight("aaa003", T0 + 600, T0 + 3000, "EDDF", "LIRF"),  # today
            ]
        )
        _, _, body = call(flights_url(fake, "arrival", "LIRF", T0 - DAY, T0 + DAY - 1))
        assert [f["icao24"] for f in json.loads(body)] == ["aaa001"]
        _, _, body = call(flights_url(fake, "departure", "LIRF", T0 - DAY, T0 + DAY - 1))
        assert [f["icao24"] for f in json.loads(body)] == ["aaa002"]  # filtered on firstSeen: yesterday
        status, _, _ = call(flights_url(fake, "arrival", "EGLL", T0 - DAY, T0 + DAY - 1))
        assert status == 404  # its arrival (lastSeen) is today's
        clock.now += DAY  # the batch of that day has run
        _, _, body = call(flights_url(fake, "arrival", "LIRF", T0 - DAY, T0 + DAY - 1))
        assert [f["icao24"] for f in json.loads(body)] == ["aaa001", "aaa003"]
    with FakeOpenSky(clock=Clock(T0 + 3600), nightly_batch=False) as fake:
        fake.add_flights([make_flight("aaa003", T0 + 600, T0 + 3000, "EDDF", "LIRF")])
        assert call(flights_url(fake, "arrival", "LIRF", T0, T0 + 3600))[0] == 200


def test_make_state_has_the_18_fields_in_order() -> None:
    state = make_state("ABC123", 41.8, 12.25, altitude=900.0, callsign="AZA1", at=T0)
    assert len(state) == len(STATE_FIELDS) == 18
    named = dict(zip(STATE_FIELDS, state, strict=True))
    assert (named["icao24"], named["callsign"]) == ("abc123", "AZA1    ")
    assert (named["latitude"], named["longitude"]) == (41.8, 12.25)
    assert (named["baro_altitude"], named["on_ground"], named["last_contact"]) == (900.0, False, T0)
    parked = dict(zip(STATE_FIELDS, make_state("def456", 41.8, 12.25, on_ground=True), strict=True))
    assert parked["on_ground"] is True and parked["baro_altitude"] is None


def test_states_are_filtered_by_box_and_icao24_and_charged_by_area() -> None:
    clock = Clock(T0 + 12 * 3600 + 7)
    with FakeOpenSky(clock=clock) as fake:
        near = make_state("a00001", 41.80, 12.25, on_ground=True)
        above = make_state("a00002", 41.90, 12.30, altitude=1200.0)
        far = make_state("a00003", 48.35, 11.78, altitude=9000.0)
        nowhere = make_state("a00004", None, None)
        fake.set_states([near, above, far, nowhere])
        auth = bearer(fake)

        status, headers, body = call(states_url(fake, lamin=41.5, lomin=12.0, lamax=42.0, lomax=12.5), headers=auth)
        answer = json.loads(body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert answer["time"] == T0 + 12 * 3600 + 5  # 5-second grid for an authenticated caller
        assert [s[0] for s in answer["states"]] == ["a00001", "a00002"]
        assert answer["states"][0] == near and headers["X-Rate-Limit-Remaining"] == "3999"

        _, _, body = call(states_url(fake, icao24=["a00003", "A00001"]), headers=auth)
        assert [s[0] for s in json.loads(body)["states"]] == ["a00001", "a00003"]  # no box: 4 credits
        assert fake.credits("states") == 3995
        _, _, body = call(states_url(fake, lamin=0, lomin=0, lamax=1, lomax=1), headers=auth)
        assert json.loads(body)["states"] is None  # none inside: null, as OpenSky

        spent = []
        for side in (10, 20, 10 * 3):  # 100, 400 and 900 square degrees
            before = fake.credits("states")
            call(states_url(fake, lamin=0, lomin=0, lamax=side, lomax=10 if side == 10 else side), headers=auth)
            spent.append(before - fake.credits("states"))
        assert spent == [2, 3, 4]
        assert states_cost((0, 0, 5, 5)) == 1 and states_cost(None) == 4
        assert len(fake.state_requests()) == 6 and fake.flight_requests() == []


def test_state_requests_are_checked_like_opensky() -> None:
    clock = Clock(T0 + 12 * 3600 + 7)
    with FakeOpenSky(clock=clock) as fake:
        status, _, _ = call(states_url(fake, lamin=41, lomin=12))
        assert status == 400  # half a box
        auth = bearer(fake)
        status, _, _ = call(states_url(fake, time=int(clock.now) - 3601), headers=auth)
        assert status == 400  # authenticated: at most an hour back
        status, _, body = call(states_url(fake, time=int(clock.now) - 600), headers=auth)
        assert status == 200 and json.loads(body)["time"] == int(clock.now) - 600 - (int(clock.now) - 600) % 5
        status, _, body = call(states_url(fake, time=T0))  # anonymous: the time is ignored
        assert status == 200 and json.loads(body)["time"] == T0 + 12 * 3600
        assert call(states_url(fake), headers={"Authorization": "Bearer forged"})[0] == 401
    with FakeOpenSky(require_auth=True) as fake:
        assert call(states_url(fake))[0] == 401


def test_state_faults_have_their_own_queue(fake: FakeOpenSky) -> None:
    fake.queue_state_faults(Fault(status=503))
    assert call(flights_url(fake, "arrival", "LIRF", T0, T0 + DAY))[0] == 200
    assert call(states_url(fake))[0] == 503
    assert call(states_url(fake))[0] == 200
    assert fake.pending_faults == 0
