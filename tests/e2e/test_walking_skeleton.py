"""The whole path on the real local platform: user -> Telegram chat id -> interest -> collect
-> OpenSky (fake, with a real token flow) -> to-alert-system -> alert-system -> to-notifier ->
alert-notifier -> gRPC GetUser -> Telegram sendMessage (fake)."""

from __future__ import annotations

import ssl
import time
import uuid

import httpx

from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.fakes.opensky import make_flight


def test_one_breach_reaches_telegram_once(platform: Platform) -> None:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    chat_id = "424242"
    now = int(time.time())
    now -= now % 86400 + 36000  # 14:00 yesterday (UTC): the latest complete day, as OpenSky serves it
    platform.opensky.add_flights(
        [
            make_flight("abc001", now - 7200, now - 3600, departure="EDDF", arrival="LIMJ", callsign="DLH1"),
            make_flight("abc002", now - 6000, now - 3000, departure="LFPG", arrival="LIMJ", callsign="AFR2"),
            make_flight("abc003", now - 5000, now - 1000, departure="LIMJ", arrival="EGLL", callsign="AZA3"),
        ]
    )
    with platform.client("user-manager") as users, platform.client("data-collector") as collector:
        created = users.post(
            "/users",
            json={"email": email, "first_name": "Ada", "last_name": "Lovelace"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 201, created.text
        assert created.json() == {"message": "User created successfully"}
        linked = users.post("/users/telegram", json={"email": email, "telegram_chat_id": chat_id})
        assert linked.status_code == 200, linked.text
        interest = collector.post("/interests", json={"email": email, "airport_code": "limj", "high_value": 2})
        assert interest.status_code == 201, interest.text

        started = time.monotonic()
        summary = collector.post("/collect")
        assert summary.status_code == 200, summary.text
        airports = {a["airport"]: a for a in summary.json()["airports"]}
        assert airports["LIMJ"]["source"] == "opensky"
        assert airports["LIMJ"]["flight_count"] == 3
        assert airports["LIMJ"]["messages"] == 1

        assert platform.telegram.wait_for_messages(1, timeout=15), "no sendMessage reached Telegram"
        elapsed = time.monotonic() - started
        message = platform.telegram.messages[0]
        assert message.chat_id == chat_id
        assert "LIMJ" in message.text and "(3)" in message.text and "threshold of 2" in message.text
        assert "simulated" not in message.text
        assert elapsed < 5.0, f"the alert took {elapsed:.1f}s"

        # The token flow was used: OpenSky saw a bearer token it issued.
        assert platform.opensky.token_requests >= 1
        assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in platform.opensky.flight_requests())

        # The delivery is logged by the notifier.
        with platform.client("alert-notifier") as notifier:

            def deliveries() -> list[dict[str, object]]:
                return notifier.get("/notifications", params={"email": email}).json()

            assert wait_until(lambda: bool(deliveries()), timeout=5), "the delivery was not logged"
            log = deliveries()
        assert [d["status"] for d in log] == ["sent"]
        assert log[0]["chat_id"] == chat_id

        # An unchanged breach is not repeated before ALERT_REPEAT_SECONDS.
        again = collector.post("/collect")
        assert again.status_code == 200
        assert not platform.telegram.wait_for_messages(2, timeout=3)
        assert len(platform.telegram.messages) == 1


def test_gateway_tls_prefixes_and_json_errors(platform: Platform) -> None:
    cert = platform.home / "certs" / "gateway.crt"
    gateway = platform.status["gateway"]
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), timeout=10) as client:
        pong = client.get(f"{gateway}/user-manager/ping")
        assert pong.status_code == 200 and pong.json() == {"message": "pong"}
        for prefix in ("data-collector", "sla-detector", "notifier"):
            assert client.get(f"{gateway}/{prefix}/ping").json() == {"message": "pong"}
        unauthorized = client.get(f"{gateway}/user-manager/users")
        assert unauthorized.status_code == 401 and "error" in unauthorized.json()
        missing = client.get(f"{gateway}/nowhere/at-all")
        assert missing.status_code == 404 and "error" in missing.json()
        too_big = client.post(
            f"{gateway}/user-manager/users",
            content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
            headers={"Authorization": f"Bearer {platform.token}", "Content-Type": "application/json"},
        )
        assert too_big.status_code == 413 and "error" in too_big.json()
    redirect = httpx.get(f"{platform.status['gateway_http']}/user-manager/ping", follow_redirects=False)
    assert redirect.status_code == 308
    assert redirect.headers["location"].startswith("https://127.0.0.1:")


def test_status_lists_every_service_healthy(platform: Platform) -> None:
    status = platform.status
    assert status["mode"] == "local"
    assert set(status["services"]) == {
        "user-manager",
        "data-collector",
        "alert-system",
        "alert-notifier",
        "sla-breach-detector",
    }
    assert all(s["healthy"] for s in status["services"].values())
    for key in ("gateway", "gateway_http", "prometheus", "kafka"):
        assert status[key]


def test_up_again_is_harmless(platform: Platform) -> None:
    before = {p.name: p.read_text() for p in (platform.home / "run").glob("*.json")}
    again = platform.flightctl("up", "--local", "-o", "json")
    assert again.returncode == 0
    after = {p.name: p.read_text() for p in (platform.home / "run").glob("*.json")}
    assert after == before, "a second `up` restarted processes that were running"
