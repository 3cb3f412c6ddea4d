"""The smoke test's steps and the Telegram link flow against in-memory services (httpx.MockTransport)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from flightctl.cli.context import Context
from flightctl.cli.data import telegram_link
from flightctl.cli.smoke import FAIL, PASS, SKIP, Smoke, junit
from flightctl.clients.api import ServiceClient
from flightctl.errors import FlightctlError
from flightctl.platform.layout import Home
from tests.fakes.clock import FakeClock


class Services:
    """Just enough of user-manager, data-collector and alert-notifier for the smoke steps."""

    def __init__(self, flights: int) -> None:
        self.flights = flights
        self.users: dict[str, dict[str, Any]] = {}
        self.interests: dict[tuple[str, str], dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.notifier_up = True
        self.collections = 0

    def handler(self, service: str) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            if service == "alert-notifier" and not self.notifier_up:
                raise httpx.ConnectError("refused")
            body = json.loads(request.content) if request.content else None
            path = request.url.path.removeprefix(f"/{service}")  # served under a prefix, as by the gateway
            return getattr(self, service.replace("-", "_"))(request.method, path, body, request)

        return handle

    def user_manager(self, method: str, path: str, body: Any, request: httpx.Request) -> httpx.Response:
        if path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if (method, path) == ("POST", "/users"):
            self.users[body["email"]] = dict(body)
            return httpx.Response(201, json={"message": "User created successfully"})
        if (method, path) == ("POST", "/users/telegram"):
            self.users[body["email"]]["telegram_chat_id"] = body["telegram_chat_id"]
            return httpx.Response(200, json={"message": "ok"})
        if method == "DELETE":
            email = path.removeprefix("/users/")
            self.users.pop(email)
            self.interests = {k: v for k, v in self.interests.items() if k[0] != email}
            return httpx.Response(200, json={"message": "User deleted successfully"})
        return httpx.Response(404, json={"error": "not here"})

    def data_collector(self, method: str, path: str, body: Any, request: httpx.Request) -> httpx.Response:
        if path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/interests":
            key = (body["email"], body["airport_code"])
            if method == "POST":
                self.interests[key] = {"high_value": body.get("high_value"), "low_value": body.get("low_value")}
                return httpx.Response(201, json={"message": "created"})
            if method == "PUT":
                self.interests[key].update({k: body[k] for k in ("high_value", "low_value") if k in body})
                return httpx.Response(200, json={"message": "updated"})
            if key not in self.interests:
                return httpx.Response(404, json={"error": "Interest not found"})
            del self.interests[key]
            return httpx.Response(200, json={"message": "deleted"})
        if path == "/collect":
            self.collections += 1
            airports = sorted({a for _e, a in self.interests})
            for (email, airport), thresholds in self.interests.items():
                high, low = thresholds["high_value"], thresholds["low_value"]
                kind = "high" if high is not None and self.flights > high else None
                kind = kind or ("low" if low is not None and self.flights < low else None)
                if kind and self.notifier_up:
                    chat = self.users[email].get("telegram_chat_id")
                    text = f"<b>{airport}</b>: the number of flights ({self.flights}) vs the {kind} threshold"
                    delivery = {"user_email": email, "kind": "alert", "status": "sent", "chat_id": chat, "text": text}
                    self.deliveries.append(delivery)
            summary = [
                {"airport": a, "flight_count": self.flights, "messages": 1, "source": "opensky"} for a in airports
            ]
            return httpx.Response(200, json={"airports": summary})
        return httpx.Response(404, json={"error": "not here"})

    def alert_notifier(self, method: str, path: str, body: Any, request: httpx.Request) -> httpx.Response:
        if path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        email = request.url.params.get("email")
        return httpx.Response(200, json=[d for d in self.deliveries if d["user_email"] == email])


def context_for(tmp_path: Path, handlers: dict[str, Any], base: str = "http://127.0.0.1:1/{service}") -> Context:
    """A context whose services are the in-memory ``handlers`` (one per service name)."""

    def connect(service: str) -> ServiceClient:
        transport = httpx.MockTransport(handlers[service])
        return ServiceClient(service, base.format(service=service), "t", backoff=(), transport=transport)

    return Context(Home(tmp_path), connect=connect)


def run_smoke(tmp_path: Path, services: Services) -> tuple[Smoke, list[Any]]:
    obj = context_for(tmp_path, {s: services.handler(s) for s in ("user-manager", "data-collector", "alert-notifier")})
    clock = FakeClock(0.0)
    smoke = Smoke(obj, "lirf", 5, "9001", clock=clock, sleep=clock.sleep)
    return smoke, smoke.run()


@pytest.mark.parametrize(("flights", "expected", "collections"), [(3, "high", 1), (0, "low", 2)])
def test_the_interest_fires_whatever_the_flight_count(
    tmp_path: Path, flights: int, expected: str, collections: int
) -> None:
    services = Services(flights)
    smoke, steps = run_smoke(tmp_path, services)
    assert [(s.name, s.result) for s in steps] == [
        ("services healthy", PASS),
        ("create user", PASS),
        ("set telegram chat", PASS),
        ("add interest", PASS),
        ("collect", PASS),
        ("notification delivered", PASS),
        ("clean up", PASS),
    ]
    assert services.collections == collections
    assert steps[5].detail == f"{expected} alert sent to chat 9001"
    assert services.users == {} and services.interests == {}  # nothing left behind
    assert smoke.email.startswith("smoke-") and smoke.email.endswith("@example.com")


def test_a_stopped_notifier_fails_the_first_step_and_still_cleans_up(tmp_path: Path) -> None:
    services = Services(2)
    services.notifier_up = False
    _smoke, steps = run_smoke(tmp_path, services)
    assert steps[0].result == FAIL and "alert-notifier at http://127.0.0.1:1/alert-notifier" in steps[0].detail
    assert [s.result for s in steps[1:6]] == [SKIP] * 5
    assert (steps[6].name, steps[6].result, steps[6].detail) == ("clean up", PASS, "nothing to remove")


def test_no_delivery_within_the_timeout_names_the_step(tmp_path: Path) -> None:
    services = Services(2)
    handlers = {s: services.handler(s) for s in ("user-manager", "data-collector")}
    obj = context_for(tmp_path, {**handlers, "alert-notifier": lambda r: httpx.Response(200, json=[])})
    clock = FakeClock(0.0)
    steps = Smoke(obj, "LIRF", 3, "9001", clock=clock, sleep=clock.sleep).run()
    failed = [s for s in steps if s.result == FAIL]
    assert [s.name for s in failed] == ["notification delivered"]
    assert "no delivery for smoke-" in failed[0].detail and "within 3s" in failed[0].detail
    assert services.users == {}

    report = tmp_path / "out" / "smoke.xml"
    junit(steps, report, "local")
    suite = ET.parse(report).getroot()  # noqa: S314 - our own report
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("7", "1", "0")
    failure = suite.find("testcase[@name='notification delivered']/failure")
    assert failure is not None and "no delivery" in str(failure.get("message"))


def link_context(tmp_path: Path, bot: httpx.Response | Exception) -> Context:
    def user_manager(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/user-manager/users/telegram/link")
        assert request.headers["Idempotency-Key"]
        email = json.loads(request.content)["email"]
        if email != "ada@example.com":
            return httpx.Response(404, json={"error": "User not found"})
        return httpx.Response(201, json={"email": email, "code": "K7Q2", "expires_at": "2026-01-01T10:00:00Z"})

    def notifier(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("GET", "/alert-notifier/telegram/bot")
        if isinstance(bot, Exception):
            raise bot
        return bot

    return context_for(tmp_path, {"user-manager": user_manager, "alert-notifier": notifier})


def test_telegram_link_gives_the_deep_link(tmp_path: Path) -> None:
    bot = httpx.Response(200, json={"username": "flightctl_bot", "link_base": "https://t.me/flightctl_bot"})
    result = telegram_link(link_context(tmp_path, bot), "ada@example.com", None)
    assert result == {
        "email": "ada@example.com",
        "code": "K7Q2",
        "expires_at": "2026-01-01T10:00:00Z",
        "bot": "flightctl_bot",
        "link": "https://t.me/flightctl_bot?start=K7Q2",
    }


@pytest.mark.parametrize(
    "bot", [httpx.Response(503, json={"error": "no Telegram bot is configured"}), httpx.ConnectError("refused")]
)
def test_without_a_bot_the_code_and_what_to_do_with_it(tmp_path: Path, bot: Any) -> None:
    result = telegram_link(link_context(tmp_path, bot), "ada@example.com", None)
    assert result["code"] == "K7Q2" and result["link"] is None
    assert result["hint"].startswith("send `/start K7Q2` to the platform's Telegram bot (")


def test_linking_an_unknown_user_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FlightctlError, match=r"user-manager: User not found \(HTTP 404\)"):
        telegram_link(link_context(tmp_path, httpx.Response(200, json={})), "nobody@example.com", None)


@pytest.mark.parametrize(("require_sent", "result"), [(False, PASS), (True, FAIL)])
def test_a_refused_delivery_only_fails_for_a_real_chat(tmp_path: Path, require_sent: bool, result: str) -> None:
    services = Services(1)
    obj = context_for(tmp_path, {s: services.handler(s) for s in ("user-manager", "data-collector", "alert-notifier")})
    refused = services.data_collector

    def collect_then_refuse(method: str, path: str, body: Any, request: httpx.Request) -> httpx.Response:
        answer = refused(method, path, body, request)
        for delivery in services.deliveries:
            delivery.update(status="failed", last_error="Bad Request: chat not found")
        return answer

    services.data_collector = collect_then_refuse  # type: ignore[method-assign]
    clock = FakeClock(0.0)
    steps = Smoke(obj, "LIRF", 5, "9001", require_sent=require_sent, clock=clock, sleep=clock.sleep).run()
    delivered = next(s for s in steps if s.name == "notification delivered")
    assert delivered.result == result
    if require_sent:
        assert delivered.detail == "the alert to chat 9001 was failed: Bad Request: chat not found"
    else:
        assert delivered.detail == "high alert failed to chat 9001"
