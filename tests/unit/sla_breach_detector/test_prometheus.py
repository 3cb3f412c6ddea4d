"""Prometheus durations, scrape-interval extraction, query-result parsing, and the client over
an in-memory transport (no network)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from flightctl.services.sla_breach_detector import prometheus
from flightctl.services.sla_breach_detector.prometheus import (
    PrometheusClient,
    PrometheusError,
    Sample,
    max_scrape_interval,
    parse_duration,
    parse_query_result,
)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("5s", 5),
        ("15s", 15),
        ("1m", 60),
        ("1m30s", 90),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1y", 365 * 86400),
        ("1h1m1s", 3661),
        ("250ms", 0.25),
        ("1s500ms", 1.5),
        ("0", 0),
        ("0s", 0),
        (" 10s ", 10),
    ],
)
def test_parse_duration(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["", "5", "s", "1.5s", "-5s", "5x", "30s1m", "1m1m", "5 s", "1M"])
def test_parse_duration_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration(raw)


def test_scrape_interval_is_the_global_one() -> None:
    assert max_scrape_interval("global:\n  scrape_interval: 5s\n") == 5


def test_scrape_interval_defaults_to_one_minute() -> None:
    assert max_scrape_interval("global:\n  evaluation_interval: 15s\n") == 60
    assert max_scrape_interval("") == 60
    assert max_scrape_interval("scrape_configs:\n- job_name: a\n") == 60


def test_scrape_interval_is_the_largest_over_global_and_every_job() -> None:
    text = """
global:
  scrape_interval: 5s
  scrape_timeout: 5s
scrape_configs:
- job_name: fast
  scrape_interval: 5s
- job_name: slow
  scrape_interval: 1m30s
- job_name: inherits
"""
    assert max_scrape_interval(text) == 90


def test_a_job_faster_than_global_does_not_lower_it() -> None:
    text = "global:\n  scrape_interval: 30s\nscrape_configs:\n- job_name: a\n  scrape_interval: 5s\n"
    assert max_scrape_interval(text) == 30


@pytest.mark.parametrize(
    "text",
    ["global: [\n", "- a\n- b\n", "global: 5\n", "scrape_configs: {a: 1}\n", "global:\n  scrape_interval: soon\n"],
)
def test_an_unreadable_prometheus_config_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        max_scrape_interval(text)


# -- query results -----------------------------------------------------------------------------


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": m, "value": [1700000000.5, v]} for m, v in series]},
    }


def test_a_vector_gives_one_sample_per_series_with_its_labels() -> None:
    body = vector(({"service": "a"}, "0.25"), ({"service": "b"}, "3"))
    assert parse_query_result(body) == [Sample({"service": "a"}, 0.25), Sample({"service": "b"}, 3.0)]


def test_a_scalar_gives_one_sample_without_labels() -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1700000000, "42.5"]}}
    assert parse_query_result(body) == [Sample({}, 42.5)]


def test_an_empty_vector_gives_no_samples() -> None:
    assert parse_query_result(vector()) == []


@pytest.mark.parametrize("raw", ["NaN", "+Inf", "-Inf"])
def test_non_finite_values_are_kept_but_not_usable(raw: str) -> None:
    (sample,) = parse_query_result(vector(({}, raw)))
    assert not math.isfinite(sample.value)
    assert not sample.usable
    assert Sample({}, 1.0).usable


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, "bad_data: parse error"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "range vector"),
        ({"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}, "not a vector or a scalar"),
        ({"status": "success"}, "no data object"),
        ([], "not a JSON object"),
        (vector(({}, "abc")), "not a number"),
        ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1]}]}}, "pair"),
        ({"status": "success", "data": {"resultType": "vector", "result": {}}}, "not a list"),
    ],
)
def test_unusable_answers_are_prometheus_errors(body: object, message: str) -> None:
    with pytest.raises(PrometheusError, match=message):
        parse_query_result(body)


# -- the client over an in-memory transport ----------------------------------------------------


def client(handler: Callable[[httpx.Request], httpx.Response], timeout: float = 2.0) -> PrometheusClient:
    return PrometheusClient("http://prom:9090/", timeout, http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_query_sends_the_promql_and_the_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=vector(({"job": "x"}, "1")))

    assert client(handler).query('sum(up{job="x"})') == [Sample({"job": "x"}, 1.0)]
    assert seen[0].url.path == "/api/v1/query"
    assert seen[0].url.params["query"] == 'sum(up{job="x"})'
    assert seen[0].url.params["timeout"] == "2s"


def test_a_bad_query_reports_prometheus_s_error() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error"}
    prom = client(lambda _r: httpx.Response(400, json=body))
    with pytest.raises(PrometheusError, match="bad_data: 1:5: parse error"):
        prom.query("up{")


def test_a_non_json_answer_is_an_error() -> None:
    prom = client(lambda _r: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(PrometheusError, match="502 without JSON"):
        prom.query("up")


def test_a_timeout_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(PrometheusError, match="no answer from Prometheus within 2s"):
        client(handler).query("up")


def test_an_unreachable_prometheus_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    prom = client(handler)
    with pytest.raises(PrometheusError, match="unreachable"):
        prom.query("up")
    with pytest.raises(PrometheusError, match="unreachable"):
        prom.scrape_interval()
    assert "unreachable" in (prom.ready() or "")


def test_scrape_interval_reads_the_running_config() -> None:
    yaml_text = "global:\n  scrape_interval: 10s\nscrape_configs:\n- job_name: a\n  scrape_interval: 15s\n"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/status/config"
        return httpx.Response(200, json={"status": "success", "data": {"yaml": yaml_text}})

    assert client(handler).scrape_interval() == 15


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"status": "error"}),
        httpx.Response(200, json={"status": "success", "data": {}}),
        httpx.Response(200, json={"status": "success", "data": {"yaml": "global: ["}}),
    ],
)
def test_scrape_interval_fails_cleanly(response: httpx.Response) -> None:
    with pytest.raises(PrometheusError):
        client(lambda _r: response).scrape_interval()


def test_ready() -> None:
    assert client(lambda _r: httpx.Response(200, text="Prometheus Server is Ready.")).ready() is None
    assert client(lambda _r: httpx.Response(503, text="not ready")).ready() == "not ready (HTTP 503)"


def test_syntax_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/format_query"
        if request.url.params["query"] == "up{":
            error = 'invalid parameter "query": 1:4: parse error: unexpected end of input'
            return httpx.Response(400, content=json.dumps({"status": "error", "errorType": "bad_data", "error": error}))
        return httpx.Response(200, json={"status": "success", "data": "up"})

    prom = client(handler)
    assert prom.syntax_error("up") is None
    assert prom.syntax_error("up{") == "1:4: parse error: unexpected end of input"


def test_the_scrape_interval_is_read_every_time_and_parsed_again_only_when_it_changed() -> None:
    ten, twenty = "global:\n  scrape_interval: 10s\n", "global:\n  scrape_interval: 20s\n"
    texts = [ten, ten, twenty]
    asked: list[str] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        asked.append(texts[len(asked)])
        return httpx.Response(200, json={"status": "success", "data": {"yaml": asked[-1]}})

    prom = client(handler)
    assert [prom.scrape_interval() for _ in texts] == [10, 10, 20]
    assert len(asked) == 3  # Prometheus was asked each time: a reloaded configuration counts at once


def test_a_query_that_parsed_is_not_sent_again_and_one_that_failed_is() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        sent.append(query)
        if query == "up{":
            error = 'invalid parameter "query": 1:4: parse error: unexpected end of input'
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": error})
        return httpx.Response(200, json={"status": "success", "data": query})

    prom = client(handler)
    for _ in range(3):
        assert prom.syntax_error("up") is None
        assert prom.syntax_error("up{") == "1:4: parse error: unexpected end of input"
    assert sent == ["up", "up{", "up{", "up{"]


def test_an_unknown_answer_is_not_remembered_as_parsed() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params["query"])
        return httpx.Response(404, text="404 page not found")

    prom = client(handler)
    assert prom.syntax_error("up") is None and prom.syntax_error("up") is None
    assert sent == ["up", "up"]


def test_the_parsed_queries_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prometheus, "SYNTAX_CACHE_SIZE", 2)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params["query"])
        return httpx.Response(200, json={"status": "success", "data": "x"})

    prom = client(handler)
    for query in ("a", "b", "c", "c", "b", "a"):
        prom.syntax_error(query)
    assert sent == ["a", "b", "c", "a"]  # "a", the oldest, was forgotten when "c" came


def test_syntax_error_is_unknown_on_a_prometheus_without_format_query() -> None:
    assert client(lambda _r: httpx.Response(404, text="404 page not found")).syntax_error("up{") is None
