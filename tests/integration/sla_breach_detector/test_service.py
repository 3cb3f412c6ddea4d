"""The platform's own sla-breach-detector (real Prometheus scraping every 5 s, real Kafka):
every validation rule of POST /sla/config, persistence across a restart, the default config
against the real Prometheus, /breach/stats, /health and /metrics."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from flightctl.platform.proc import wait_until
from flightctl.services.sla_breach_detector.config import DEFAULT_CONFIG_PATH
from tests.conftest import Platform

SERVICE = "sla-breach-detector"
VALID: dict[str, Any] = {
    "metrics": [
        {"name": "up_ratio", "type": "gauge", "query": "avg(up)", "min": 0.5, "max": 1},
        {"name": "in_flight", "type": "gauge", "query": "sum(http_requests_in_progress)", "min": 0, "max": 50},
    ],
    "settings": {"t_check": 25, "note": "posted by test_service"},
}

Change = Callable[[dict[str, Any]], object]


def metric(**changes: Any) -> Change:
    def change(config: dict[str, Any]) -> None:
        config["metrics"][0].update(changes)

    return change


def drop(key: str) -> Change:
    return lambda config: config["metrics"][0].pop(key)


def setting(value: Any) -> Change:
    return lambda config: config.__setitem__("settings", value)


RULES: list[tuple[str, Change, str]] = [
    ("unknown top-level key", lambda c: c.__setitem__("rules", []), "unknown top-level key(s) rules"),
    ("metrics missing", lambda c: c.pop("metrics"), "metrics must be a non-empty list"),
    ("metrics empty", lambda c: c.__setitem__("metrics", []), "metrics must be a non-empty list"),
    ("metrics not a list", lambda c: c.__setitem__("metrics", {"a": 1}), "metrics must be a non-empty list"),
    ("metric not an object", lambda c: c["metrics"].__setitem__(0, "avg(up)"), "metrics[0] must be an object"),
    ("unknown metric key", metric(threshold=3), "metrics[0] has unknown key(s) threshold"),
    ("name missing", drop("name"), "metrics[0].name must be a non-empty string"),
    ("name empty", metric(name=" "), "metrics[0].name must be a non-empty string"),
    ("name not a string", metric(name=7), "metrics[0].name must be a non-empty string"),
    (
        "duplicate name",
        lambda c: c["metrics"][1].__setitem__("name", "up_ratio"),
        "metrics[1] (up_ratio): metric names must be unique",
    ),
    ("type missing", drop("type"), 'metrics[0] (up_ratio).type must be "gauge"'),
    ("type not gauge", metric(type="counter"), 'metrics[0] (up_ratio).type must be "gauge"'),
    ("query missing", drop("query"), "metrics[0] (up_ratio).query must be a non-empty PromQL string"),
    ("query empty", metric(query=""), "metrics[0] (up_ratio).query must be a non-empty PromQL string"),
    ("query not a string", metric(query=["avg(up)"]), "metrics[0] (up_ratio).query must be a non-empty PromQL string"),
    ("min missing", drop("min"), "metrics[0] (up_ratio).min is required and must be a finite number"),
    ("max missing", drop("max"), "metrics[0] (up_ratio).max is required and must be a finite number"),
    ("min a string", metric(min="0.5"), "metrics[0] (up_ratio).min must be a finite number"),
    ("max a boolean", metric(max=True), "metrics[0] (up_ratio).max must be a finite number"),
    ("max null", metric(max=None), "metrics[0] (up_ratio).max must be a finite number"),
    ("min NaN", metric(min=math.nan), "metrics[0] (up_ratio).min must be a finite number"),
    ("max infinite", metric(max=math.inf), "metrics[0] (up_ratio).max must be a finite number"),
    ("min above max", metric(min=2, max=1), "metrics[0] (up_ratio): min (2) must be <= max (1)"),
    ("settings missing", lambda c: c.pop("settings"), "settings must be an object with t_check"),
    ("settings not an object", setting([25]), "settings must be an object with t_check"),
    ("t_check missing", setting({"note": "x"}), "settings.t_check must be a positive number of seconds"),
    ("t_check zero", setting({"t_check": 0}), "settings.t_check must be a positive number of seconds"),
    ("t_check negative", setting({"t_check": -30}), "settings.t_check must be a positive number of seconds"),
    ("t_check a string", setting({"t_check": "30"}), "settings.t_check must be a positive number of seconds"),
    (
        "t_check under 5 x T_scrape",
        setting({"t_check": 24}),
        "settings.t_check >= 5 * T_scrape is violated: t_check is 24s but Prometheus scrapes every 5s, "
        "so t_check must be at least 25s",
    ),
    ("invalid PromQL", metric(query="avg(up"), "metrics[0] (up_ratio).query must be valid PromQL: "),
]


def post_raw(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    # allow_nan: the NaN / Infinity cases reach the server as the JSON extensions Python writes.
    return client.post("/sla/config", content=json.dumps(body), headers={"Content-Type": "application/json"})


def test_stats_health_and_metrics(platform: Platform, sla_client: httpx.Client) -> None:
    names = [m["name"] for m in sla_client.get("/sla/config").json()["metrics"]]

    # The first check runs at start; every configured metric has been checked once. (First in
    # this file: a test that posts a config adds metrics not checked until the next t_check.)
    def all_checked() -> bool:
        stats = sla_client.get("/breach/stats").json()
        return all(stats.get(name, {}).get("last_check") for name in names)

    assert wait_until(all_checked, 30)
    stats = sla_client.get("/breach/stats").json()
    assert set(names) <= set(stats)
    for name in names:
        assert set(stats[name]) == {"low_breaches", "high_breaches", "last_value", "last_check", "no_data", "errors"}
        assert stats[name]["errors"] == 0, (name, stats[name])
    health = sla_client.get("/health")
    assert health.status_code == 200
    assert health.json()["checks"] == {"scheduler": "ok", "prometheus": "ok", "kafka": "ok"}
    text = sla_client.get("/metrics").text
    assert "sla_checks_total" in text and "sla_last_check_timestamp_seconds" in text
    assert sla_client.get("/ping").json() == {"message": "pong"}


@pytest.mark.parametrize(("rule", "change", "message"), RULES, ids=[r[0] for r in RULES])
def test_every_validation_rule_is_a_400_naming_it(
    sla_client: httpx.Client, rule: str, change: Change, message: str
) -> None:
    before = sla_client.get("/sla/config").json()
    body = copy.deepcopy(VALID)
    change(body)
    response = post_raw(sla_client, body)
    assert response.status_code == 400, (rule, response.text)
    assert response.json()["error"].startswith(message), response.json()
    assert sla_client.get("/sla/config").json() == before  # nothing changed


@pytest.mark.parametrize(
    ("body", "status"), [(b"not json", 400), (b"[1, 2]", 400), (b"", 400), (b"{" + b" " * (1024 * 1024) + b"}", 413)]
)
def test_a_body_that_is_not_a_json_object_is_rejected(sla_client: httpx.Client, body: bytes, status: int) -> None:
    response = sla_client.post("/sla/config", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert set(response.json()) == {"error"}


def test_the_config_endpoints_need_the_token(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url(SERVICE), timeout=10) as anonymous:
        assert anonymous.get("/sla/config").status_code == 401
        assert anonymous.post("/sla/config", json=VALID).status_code == 401
        assert anonymous.get("/breach/stats").status_code == 401
        assert anonymous.get("/health").status_code == 200


def test_an_accepted_config_survives_a_restart(platform: Platform, sla_client: httpx.Client) -> None:
    response = sla_client.post("/sla/config", json=VALID)
    assert response.status_code == 200
    assert response.json() == VALID
    assert sla_client.get("/sla/config").json() == VALID
    try:
        platform.stop(SERVICE)
        with pytest.raises(httpx.TransportError):
            sla_client.get("/ping")
    finally:
        platform.restore()
    assert sla_client.get("/sla/config").json() == VALID
    stats = sla_client.get("/breach/stats").json()
    assert {"up_ratio", "in_flight"} <= set(stats)


def test_the_default_config_is_accepted_and_quiet_on_a_healthy_platform(
    platform: Platform, sla_client: httpx.Client
) -> None:
    default = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    response = sla_client.post("/sla/config", json=default)  # every query parses, t_check >= 25 s
    assert response.status_code == 200, response.text
    with httpx.Client(base_url=str(platform.status["prometheus"]), timeout=10) as prometheus:
        for rule in default["metrics"]:
            body = prometheus.get("/api/v1/query", params={"query": rule["query"]}).json()
            assert body["status"] == "success", (rule["name"], body)
            for series in body["data"]["result"]:
                value = float(series["value"][1])
                if math.isfinite(value):
                    assert rule["min"] <= value <= rule["max"], (rule["name"], series)


def test_replacing_the_rules_replaces_the_stats(platform: Platform, sla_client: httpx.Client) -> None:
    before = sla_client.get("/sla/config").json()
    try:
        assert sla_client.post("/sla/config", json=VALID).status_code == 200
        assert set(sla_client.get("/breach/stats").json()) == {"up_ratio", "in_flight"}
        only = {**VALID, "metrics": [{**VALID["metrics"][0], "name": "up_only"}]}
        assert sla_client.post("/sla/config", json=only).status_code == 200
        # At once, and still after the next check has run under the new rules.
        assert set(sla_client.get("/breach/stats").json()) == {"up_only"}
        assert wait_until(lambda: sla_client.get("/breach/stats").json()["up_only"]["last_check"], 40)
        assert set(sla_client.get("/breach/stats").json()) == {"up_only"}
    finally:
        assert sla_client.post("/sla/config", json=before).status_code == 200
