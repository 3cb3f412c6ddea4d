"""The interests API: a daily and a live interest in one airport side by side (409 only for the
same kind, PUT and DELETE picking the kind with ``live``), the 4xx answers (those
test_users_api.py::test_interest_errors does not cover), each a JSON error, and failing closed
with 503 while user-manager is down."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.integration.data_collector.conftest import create_user


def error(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    message = answer.json()["error"]
    assert isinstance(message, str) and message
    return message


def test_add_rejects_each_bad_field_with_400(platform: Platform, new_airport: Callable[[], str]) -> None:
    email, airport = create_user(platform), new_airport()
    ok = {"email": email, "airport_code": airport}
    with platform.client("data-collector") as dc:
        assert "JSON object" in error(dc.post("/interests", content=b"{nope"), 400)
        assert "JSON object" in error(dc.post("/interests", json=[ok]), 400)
        assert "email" in error(dc.post("/interests", json={"airport_code": airport}), 400)
        assert "email" in error(dc.post("/interests", json={**ok, "email": "no-at-sign"}), 400)
        assert "airport_code" in error(dc.post("/interests", json={"email": email}), 400)
        for code in ("LIR", "LIRFX", "", 1234):
            assert "airport_code" in error(dc.post("/interests", json={**ok, "airport_code": code}), 400)
        for bad in ("5", 2.5, True, -3):
            assert "high_value" in error(dc.post("/interests", json={**ok, "high_value": bad}), 400)
            assert "low_value" in error(dc.post("/interests", json={**ok, "low_value": bad}), 400)
        for bad in ("yes", 1, "true"):
            assert "live" in error(dc.post("/interests", json={**ok, "live": bad}), 400)
        assert dc.get(f"/interests/{email}").json()["interests"] == []  # nothing stored by a 400

        # low == high is allowed; codes are case-insensitive and stored upper-case
        created = dc.post("/interests", json={**ok, "airport_code": airport.lower(), "high_value": 3, "low_value": 3})
        assert created.status_code == 201, created.text
        assert dc.get(f"/interests/{email.upper()}").json() == {
            "email": email,
            "interests": [{"airport_code": airport, "high_value": 3, "low_value": 3, "live": False}],
        }


def test_a_daily_and_a_live_interest_in_one_airport_side_by_side(
    platform: Platform, new_airport: Callable[[], str]
) -> None:
    email, airport, other = create_user(platform), new_airport(), new_airport()
    key = {"email": email, "airport_code": airport}
    with platform.client("data-collector") as dc:

        def listed() -> list[dict[str, object]]:
            answer = dc.get(f"/interests/{email}")
            assert answer.status_code == 200, answer.text
            return list(answer.json()["interests"])

        live = dc.post("/interests", json={**key, "high_value": 4, "live": True})
        assert live.status_code == 201, live.text
        assert live.json() == {
            "message": "Interest added successfully",
            "email": email,
            "airport_code": airport,
            "high_value": 4,
            "low_value": None,
            "live": True,
        }
        daily = dc.post("/interests", json={**key, "airport_code": airport.lower(), "high_value": 40})
        assert daily.status_code == 201, daily.text
        assert daily.json()["live"] is False
        # 409 only for the same kind, saying which
        assert "live traffic" in error(dc.post("/interests", json={**key, "high_value": 5, "live": True}), 409)
        assert "daily flights" in error(dc.post("/interests", json={**key, "live": False}), 409)
        assert dc.post("/interests", json={"email": email, "airport_code": other, "live": True}).status_code == 201
        # both listed, by airport, the daily one first
        both = [
            {"airport_code": airport, "high_value": 40, "low_value": None, "live": False},
            {"airport_code": airport, "high_value": 4, "low_value": None, "live": True},
        ]
        lone = {"airport_code": other, "high_value": None, "low_value": None, "live": True}
        assert listed() == sorted([*both, lone], key=lambda i: (i["airport_code"], i["live"]))

        # PUT without live (or false) changes the daily one, with live true the live one
        changed = dc.put("/interests", json={**key, "low_value": 10})
        assert changed.status_code == 200 and (changed.json()["live"], changed.json()["low_value"]) == (False, 10)
        changed = dc.put("/interests", json={**key, "live": True, "low_value": 1, "high_value": 6})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["live"], changed.json()["low_value"], changed.json()["high_value"]) == (True, 1, 6)
        changed = dc.put("/interests", json={**key, "live": False, "high_value": None})
        assert changed.status_code == 200 and changed.json()["high_value"] is None
        mine = [i for i in listed() if i["airport_code"] == airport]
        assert mine == [
            {"airport_code": airport, "high_value": None, "low_value": 10, "live": False},
            {"airport_code": airport, "high_value": 6, "low_value": 1, "live": True},
        ]
        for bad in ("yes", 1, "true"):
            assert "live" in error(dc.put("/interests", json={**key, "live": bad, "low_value": 1}), 400)
            assert "live" in error(dc.request("DELETE", "/interests", json={**key, "live": bad}), 400)
        # the order check is against the picked interest's own thresholds (the live one's high is 6)
        assert "low_value" in error(dc.put("/interests", json={**key, "live": True, "low_value": 7}), 400)

        # a missing kind is a 404 that points at the kind the user has
        only_live = {"email": email, "airport_code": other}
        assert "give live true" in error(dc.put("/interests", json={**only_live, "high_value": 1}), 404)
        assert "give live true" in error(dc.request("DELETE", "/interests", json=only_live), 404)

        # DELETE removes one kind; the other stays
        assert dc.request("DELETE", "/interests", json={**key, "live": True}).status_code == 200
        assert [i for i in listed() if i["airport_code"] == airport] == [
            {"airport_code": airport, "high_value": None, "low_value": 10, "live": False}
        ]
        assert "give live false" in error(dc.request("DELETE", "/interests", json={**key, "live": True}), 404)
        assert dc.post("/interests", json={**key, "live": True}).status_code == 201  # free again
        assert dc.request("DELETE", "/interests", json=key).status_code == 200
        assert [(i["airport_code"], i["live"]) for i in listed()] == sorted([(airport, True), (other, True)])


def test_deleting_the_user_removes_both_kinds(platform: Platform, new_airport: Callable[[], str]) -> None:
    email, airport = create_user(platform), new_airport()
    with platform.client("data-collector") as dc, platform.client("user-manager") as users:
        for live in (False, True):
            added = dc.post("/interests", json={"email": email, "airport_code": airport, "live": live})
            assert added.status_code == 201, added.text
        assert len(dc.get(f"/interests/{email}").json()["interests"]) == 2
        deleted = users.delete(f"/users/{email}", headers={"Idempotency-Key": str(uuid.uuid4())})
        assert deleted.status_code == 200, deleted.text
        assert wait_until(lambda: dc.get(f"/interests/{email}").json()["interests"] == [], timeout=15)


def test_update_and_remove_errors(platform: Platform, new_airport: Callable[[], str]) -> None:
    email, airport, other = create_user(platform), new_airport(), new_airport()
    with platform.client("data-collector") as dc:
        assert dc.post("/interests", json={"email": email, "airport_code": airport, "low_value": 2}).status_code == 201
        key = {"email": email, "airport_code": airport}
        assert "JSON object" in error(dc.put("/interests", content=b"[]"), 400)
        assert "not a known ICAO" in error(
            dc.put("/interests", json={**key, "airport_code": "QQQQ", "low_value": 1}), 400
        )
        assert "high_value" in error(dc.put("/interests", json={**key, "high_value": "7"}), 400)
        # the stored low (2) above a new high (1) is refused as well
        assert "low_value" in error(dc.put("/interests", json={**key, "high_value": 1}), 400)
        assert email in error(dc.put("/interests", json={"email": email, "airport_code": other, "high_value": 1}), 404)
        cleared = dc.put("/interests", json={**key, "low_value": None, "high_value": 1})
        assert cleared.status_code == 200 and (cleared.json()["low_value"], cleared.json()["high_value"]) == (None, 1)

        assert "airport_code" in error(dc.request("DELETE", "/interests", json={"email": email}), 400)
        assert "email" in error(dc.request("DELETE", "/interests", json={"airport_code": airport}), 400)
        assert "JSON object" in error(dc.request("DELETE", "/interests", content=b"x"), 400)
        error(dc.request("DELETE", "/interests", json={"email": email, "airport_code": other}), 404)
        assert dc.get("/interests/nobody-at-all@example.com").json() == {
            "email": "nobody-at-all@example.com",
            "interests": [],
        }


def test_auth_size_and_query_errors(platform: Platform, new_airport: Callable[[], str]) -> None:
    airport = new_airport()
    with platform.client("data-collector") as dc:
        assert "token" in error(httpx.get(platform.url("data-collector") + "/interests/x@example.com"), 401)
        error(dc.post("/interests", content=b"{" + b" " * (1024 * 1024 + 10) + b"}"), 413)
        for params in ({"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"offset": "-1"}, {"type": "both"}):
            error(dc.get(f"/flights/{airport}", params=params), 400)
        for days in ("0", "366", "x"):
            assert "days" in error(dc.get(f"/flights/average/{airport}", params={"days": days}), 400)
        assert airport in error(dc.get(f"/flights/average/{airport}"), 404)
        assert airport in error(dc.get(f"/flights/last/{airport}"), 404)
        assert dc.get(f"/flights/{airport}").json() == []  # an airport without flights is an empty list
        error(dc.get("/no/such/endpoint"), 404)
        error(dc.patch("/interests", json={}), 405)


def test_interests_fail_closed_while_user_manager_is_down(platform: Platform, new_airport: Callable[[], str]) -> None:
    email, airport = create_user(platform), new_airport()
    body = {"email": email, "airport_code": airport, "high_value": 5}
    platform.stop("user-manager")
    try:
        with platform.client("data-collector") as dc:
            assert "user-manager" in error(dc.post("/interests", json=body), 503)
            assert dc.get(f"/interests/{email}").json()["interests"] == []  # nothing stored unchecked
            # input errors are still reported as such, without asking user-manager
            error(dc.post("/interests", json={**body, "airport_code": "QQQQ"}), 400)
    finally:
        platform.restore()
    with platform.client("data-collector") as dc:
        assert dc.post("/interests", json=body).status_code == 201
