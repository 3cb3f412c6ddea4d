"""The typed per-service clients: which request each method makes, over a ServiceClient that
keeps its Idempotency-Key, journal and retry behaviour (httpx.MockTransport, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from flightctl.clients.alert_notifier import AlertNotifier
from flightctl.clients.api import ServiceClient
from flightctl.clients.data_collector import DataCollector
from flightctl.clients.sla_breach_detector import SlaBreachDetector
from flightctl.clients.user_manager import UserManager
from flightctl.errors import UsageError
from flightctl.journal import Journal
from tests.fakes.clock import FakeClock


class Recorder:
    """Answers every request with ``answer`` and remembers (method, path, query, key, body)."""

    def __init__(self, answer: httpx.Response | None = None) -> None:
        self.answer = answer or httpx.Response(200, json={"ok": True})
        self.seen: list[tuple[str, str, dict[str, str], str | None, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        key = request.headers.get("Idempotency-Key")
        self.seen.append((request.method, request.url.path, dict(request.url.params), key, body))
        return self.answer


def http(service: str, recorder: Recorder, **kwargs: Any) -> ServiceClient:
    return ServiceClient(service, "http://svc.test", "t", transport=httpx.MockTransport(recorder), **kwargs)


def test_user_manager_requests() -> None:
    recorder = Recorder()
    users = UserManager(http("user-manager", recorder))
    users.create("a@b.it", "Ada", "Lovelace", tax_code="RSSMRA80A01H501U", key="k1")
    users.create("c@d.it", "Carl", "Gauss", tax_code="", iban=None)
    users.list()
    users.get("a@b.it")
    users.set_telegram_chat("a@b.it", "-100123", key="k2")
    users.telegram_link_code("a@b.it")
    users.delete("a@b.it")
    seen = [(method, path, body) for method, path, _query, _key, body in recorder.seen]
    assert seen == [
        (
            "POST",
            "/users",
            {"email": "a@b.it", "first_name": "Ada", "last_name": "Lovelace", "tax_code": "RSSMRA80A01H501U"},
        ),
        ("POST", "/users", {"email": "c@d.it", "first_name": "Carl", "last_name": "Gauss"}),
        ("GET", "/users", None),
        ("GET", "/users/a@b.it", None),
        ("POST", "/users/telegram", {"email": "a@b.it", "telegram_chat_id": "-100123"}),
        ("POST", "/users/telegram/link", {"email": "a@b.it"}),
        ("DELETE", "/users/a@b.it", None),
    ]
    keys = [key for method, _path, _query, key, _body in recorder.seen if method != "GET"]
    assert keys[0] == "k1" and keys[2] == "k2" and all(keys)  # every change carries a key


def test_data_collector_requests() -> None:
    recorder = Recorder()
    collector = DataCollector(http("data-collector", recorder))
    collector.add_interest("a@b.it", "LIRF", high=3)
    collector.update_interest("a@b.it", "LIRF", low=1)
    collector.update_interest("a@b.it", "LIRF", high=None)
    collector.remove_interest("a@b.it", "LIRF")
    collector.add_interest("a@b.it", "LIRF", high=20, live=True)
    collector.update_interest("a@b.it", "LIRF", low=2, live=True)
    collector.remove_interest("a@b.it", "LIRF", live=True)
    collector.interests("a@b.it")
    collector.flights("LIRF", kind="arrivals", limit=5)
    collector.average("LIRF", 7)
    collector.last("LIRF")
    collector.collect()
    assert [(m, p, q, b) for m, p, q, _k, b in recorder.seen] == [
        ("POST", "/interests", {}, {"email": "a@b.it", "airport_code": "LIRF", "high_value": 3, "low_value": None}),
        ("PUT", "/interests", {}, {"email": "a@b.it", "airport_code": "LIRF", "low_value": 1}),
        ("PUT", "/interests", {}, {"email": "a@b.it", "airport_code": "LIRF", "high_value": None}),
        ("DELETE", "/interests", {}, {"email": "a@b.it", "airport_code": "LIRF"}),
        (
            "POST",
            "/interests",
            {},
            {"email": "a@b.it", "airport_code": "LIRF", "high_value": 20, "low_value": None, "live": True},
        ),
        ("PUT", "/interests", {}, {"email": "a@b.it", "airport_code": "LIRF", "low_value": 2, "live": True}),
        ("DELETE", "/interests", {}, {"email": "a@b.it", "airport_code": "LIRF", "live": True}),
        ("GET", "/interests/a@b.it", {}, None),
        ("GET", "/flights/LIRF", {"type": "arrivals", "limit": "5", "offset": "0"}, None),
        ("GET", "/flights/average/LIRF", {"days": "7"}, None),
        ("GET", "/flights/last/LIRF", {}, None),
        ("POST", "/collect", {}, None),
    ]


def test_notifier_and_detector_requests() -> None:
    recorder = Recorder(httpx.Response(503, json={"error": "no Telegram bot is configured"}))
    notifier = AlertNotifier(http("alert-notifier", recorder))
    assert notifier.telegram_bot() == (503, {"error": "no Telegram bot is configured"})  # returned, not raised
    assert notifier.health()[0] == 503

    recorder = Recorder()
    notifier = AlertNotifier(http("alert-notifier", recorder))
    notifier.notifications(email="a@b.it", limit=10)
    detector = SlaBreachDetector(http("sla-breach-detector", recorder))
    detector.config()
    detector.set_config({"metrics": []}, key="k")
    detector.stats()
    assert [(m, p, q, k, b) for m, p, q, k, b in recorder.seen] == [
        ("GET", "/notifications", {"email": "a@b.it", "limit": "10"}, None, None),
        ("GET", "/sla/config", {}, None, None),
        ("POST", "/sla/config", {}, "k", {"metrics": []}),
        ("GET", "/breach/stats", {}, None, None),
    ]


def test_changes_are_journaled_and_retried_with_the_same_key(tmp_path: Path) -> None:
    attempts: list[str | None] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request.headers.get("Idempotency-Key"))
        if len(attempts) == 1:
            raise httpx.ReadError("connection reset")
        return httpx.Response(
            201, json={"message": "User created successfully"}, headers={"Idempotent-Replayed": "true"}
        )

    clock, said = FakeClock(), []
    journal = Journal(tmp_path / "journal.jsonl")
    client = ServiceClient(
        "user-manager",
        "http://svc.test",
        "t",
        journal=journal,
        progress=said.append,
        backoff=(0.5,),
        sleep=clock.sleep,
        transport=httpx.MockTransport(flaky),
    )
    assert UserManager(client).create("a@b.it", "Ada", "Lovelace", key="k-1") == {
        "message": "User created successfully"
    }
    assert attempts == ["k-1", "k-1"] and clock.sleeps == [0.5]
    assert said[-1] == "user-manager replayed the stored outcome of Idempotency-Key k-1: nothing ran twice"
    (entry,) = journal.entries()
    assert (entry.key, entry.path, len(entry.outcomes)) == ("k-1", "/users", 2)


def test_a_bad_key_is_a_usage_error_before_any_connection() -> None:
    def never() -> ServiceClient:
        raise AssertionError("no client should be made for a bad key")

    with pytest.raises(UsageError, match="--idempotency-key must be 1 to 255 printable ASCII characters"):
        UserManager(never).delete("a@b.it", key="x" * 300)
    made: list[str] = []

    def connect() -> ServiceClient:
        made.append("user-manager")
        return http("user-manager", Recorder())

    users = UserManager(connect)
    assert made == []  # nothing is made until a request is
    users.list()
    users.get("a@b.it")
    assert made == ["user-manager"] and users.base_url == "http://svc.test"
