"""The HTTP routes on the common app factory, with a fake Prometheus and a temporary file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from flightctl.services.common.http import create_http_app
from flightctl.services.sla_breach_detector import api
from flightctl.services.sla_breach_detector.config import ConfigStore, load_config_file, parse_config
from flightctl.services.sla_breach_detector.prometheus import PrometheusError
from flightctl.services.sla_breach_detector.sampler import BreachStats

VALID: dict[str, Any] = {
    "metrics": [{"name": "p95", "type": "gauge", "query": "histogram_quantile(0.95, x)", "min": 0, "max": 0.5}],
    "settings": {"t_check": 60},
}


class FakePrometheus:
    def __init__(self) -> None:
        self.interval: float | Exception = 10.0
        self.bad_queries: dict[str, str] = {}
        self.down_for_syntax = False

    def scrape_interval(self) -> float:
        if isinstance(self.interval, Exception):
            raise self.interval
        return self.interval

    def syntax_error(self, promql: str) -> str | None:
        if self.down_for_syntax:
            raise PrometheusError("Prometheus is unreachable (connection refused)")
        return self.bad_queries.get(promql)


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "sla.yaml"
        self.path.write_text(yaml.safe_dump({**VALID, "settings": {"t_check": 30}}))
        self.store = ConfigStore(self.path, load_config_file(self.path))
        self.stats = BreachStats()
        self.stats.track(self.store.current())
        self.prometheus = FakePrometheus()
        app = create_http_app(
            "sla-breach-detector", api_token=None, registry=CollectorRegistry(), health=lambda: {"scheduler": None}
        )
        app.register_blueprint(api.blueprint(self.store, self.stats, self.prometheus))
        self.client: FlaskClient = app.test_client()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_get_config(env: Env) -> None:
    response = env.client.get("/sla/config")
    assert response.status_code == 200
    assert response.get_json() == {**VALID, "settings": {"t_check": 30}}


def test_post_config_stores_it_and_it_survives_a_restart(env: Env) -> None:
    response = env.client.post("/sla/config", json=VALID)
    assert response.status_code == 200
    assert response.get_json() == VALID
    assert env.client.get("/sla/config").get_json() == VALID
    assert load_config_file(env.path) == parse_config(VALID)  # what the next start reads


def test_post_config_rejects_a_structural_error_naming_the_rule(env: Env) -> None:
    body = {**VALID, "metrics": [{**VALID["metrics"][0], "min": 2, "max": 1}]}
    response = env.client.post("/sla/config", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "metrics[0] (p95): min (2) must be <= max (1)"}
    assert env.client.get("/sla/config").get_json()["settings"] == {"t_check": 30}


def test_post_config_rejects_unknown_metric_keys(env: Env) -> None:
    body = {**VALID, "metrics": [{**VALID["metrics"][0], "threshold": 3}]}
    response = env.client.post("/sla/config", json=body)
    assert response.status_code == 400
    assert "unknown key(s) threshold" in response.get_json()["error"]


def test_post_config_enforces_t_check_against_the_scrape_interval(env: Env) -> None:
    env.prometheus.interval = 15.0
    response = env.client.post("/sla/config", json=VALID)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("settings.t_check >= 5 * T_scrape is violated")
    assert "at least 75s" in response.get_json()["error"]


def test_post_config_is_503_when_prometheus_cannot_be_asked(env: Env) -> None:
    env.prometheus.interval = PrometheusError("Prometheus is unreachable (connection refused)")
    response = env.client.post("/sla/config", json=VALID)
    assert response.status_code == 503
    message = response.get_json()["error"]
    assert "settings.t_check >= 5 * T_scrape cannot be checked" in message
    assert "connection refused" in message


def test_structural_errors_are_400_even_when_prometheus_is_down(env: Env) -> None:
    env.prometheus.interval = PrometheusError("down")
    assert env.client.post("/sla/config", json={"metrics": []}).status_code == 400


def test_post_config_rejects_a_query_prometheus_cannot_parse(env: Env) -> None:
    env.prometheus.bad_queries["histogram_quantile(0.95, x)"] = "1:5: parse error: unexpected"
    response = env.client.post("/sla/config", json=VALID)
    assert response.status_code == 400
    assert response.get_json()["error"] == "metrics[0] (p95).query must be valid PromQL: 1:5: parse error: unexpected"


def test_post_config_is_503_when_the_syntax_check_cannot_run(env: Env) -> None:
    env.prometheus.down_for_syntax = True
    assert env.client.post("/sla/config", json=VALID).status_code == 503


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_post_config_needs_a_json_object(env: Env, body: bytes) -> None:
    response = env.client.post("/sla/config", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "the request body must be a JSON object"}


def test_post_config_is_503_when_the_file_cannot_be_written(env: Env, tmp_path: Path) -> None:
    env.store.path = tmp_path / "missing-dir" / "sla.yaml"
    response = env.client.post("/sla/config", json=VALID)
    assert response.status_code == 503
    assert "could not be saved to SLA_CONFIG_PATH" in response.get_json()["error"]
    assert env.client.get("/sla/config").get_json()["settings"] == {"t_check": 30}


def test_breach_stats(env: Env) -> None:
    env.stats.record("p95", checked_at="2026-01-01T00:00:00+00:00", value=0.7)
    env.stats.record_breach("p95", "high")
    response = env.client.get("/breach/stats")
    assert response.status_code == 200
    assert response.get_json() == {
        "p95": {
            "low_breaches": 0,
            "high_breaches": 1,
            "last_value": 0.7,
            "last_check": "2026-01-01T00:00:00+00:00",
            "no_data": 0,
            "errors": 0,
        }
    }


def test_the_factory_routes_are_there(env: Env) -> None:
    assert env.client.get("/ping").get_json() == {"message": "pong"}
    assert env.client.get("/health").status_code == 200
    assert env.client.get("/metrics").status_code == 200
