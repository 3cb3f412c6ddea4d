"""Prometheus's HTTP API as this service uses it: instant queries, readiness, and the scrape
interval from the running configuration. The parsing is pure and tested without a server."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

DEFAULT_SCRAPE_INTERVAL = 60.0  # Prometheus's default global.scrape_interval (1m)
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it: the same documents, parsed in C
(Prometheus's running configuration, defaults expanded, took 7 ms or more in pure Python)."""
SYNTAX_CACHE_SIZE = 256
"""Queries remembered as valid PromQL (:meth:`PrometheusClient.syntax_error`)."""
_UNIT_SECONDS = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}


class PrometheusError(Exception):
    """Prometheus could not be reached, or did not give a usable answer."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant query: its labels and its value (NaN and infinities kept)."""

    labels: Mapping[str, str]
    value: float

    @property
    def usable(self) -> bool:
        return math.isfinite(self.value)


def parse_duration(raw: object) -> float:
    """Seconds in a Prometheus duration such as ``5s``, ``1m30s``, ``1h``, ``250ms`` or ``0``."""
    text = str(raw).strip()
    if text == "0":
        return 0.0
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise ValueError(f"{text!r} is not a Prometheus duration (like 15s, 1m or 1m30s)")
    return sum(int(n) * _UNIT_SECONDS[unit] for unit, n in match.groupdict().items() if n)


def max_scrape_interval(config_yaml: str) -> float:
    """The largest scrape interval in a Prometheus configuration: ``global.scrape_interval``
    (1m when absent) and every ``scrape_configs[].scrape_interval``, since a metric may come
    from any job."""
    try:
        doc = yaml.load(config_yaml, Loader=_YAML_LOADER)  # noqa: S506 (SafeLoader or CSafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"the configuration is not YAML: {_one_line(exc)}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ValueError("the configuration is not a YAML mapping")
    global_section = doc.get("global") or {}
    if not isinstance(global_section, dict):
        raise ValueError("global is not a mapping")
    raw_global = global_section.get("scrape_interval")
    intervals = [DEFAULT_SCRAPE_INTERVAL if raw_global is None else parse_duration(raw_global)]
    jobs = doc.get("scrape_configs") or []
    if not isinstance(jobs, list):
        raise ValueError("scrape_configs is not a list")
    for job in jobs:
        if isinstance(job, dict) and job.get("scrape_interval") is not None:
            intervals.append(parse_duration(job["scrape_interval"]))
    return max(intervals)


def _number(raw: object) -> float:
    # Prometheus encodes sample values as strings: "1.5", "NaN", "+Inf", "-Inf".
    if not isinstance(raw, str):
        raise PrometheusError(f"sample value {raw!r} is not a string")
    try:
        return float(raw)
    except ValueError:
        raise PrometheusError(f"sample value {raw!r} is not a number") from None


def _pair_value(pair: object) -> float:
    if not isinstance(pair, list) or len(pair) != 2:
        raise PrometheusError("a sample is not a [timestamp, value] pair")
    return _number(pair[1])


def parse_query_result(body: object) -> list[Sample]:
    """Samples of an ``/api/v1/query`` answer: one per series of a vector, one without labels
    for a scalar, none for an empty vector. Anything else is a PrometheusError."""
    if not isinstance(body, dict):
        raise PrometheusError("the answer is not a JSON object")
    if body.get("status") != "success":
        kind = body.get("errorType") or "error"
        raise PrometheusError(f"{kind}: {body.get('error') or 'query failed'}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusError("the answer has no data object")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Sample(labels={}, value=_pair_value(result))]
    if kind == "vector":
        if not isinstance(result, list):
            raise PrometheusError("a vector result is not a list")
        samples = []
        for series in result:
            if not isinstance(series, dict):
                raise PrometheusError("a series of the vector is not an object")
            labels = series.get("metric") or {}
            if not isinstance(labels, dict):
                raise PrometheusError("the labels of a series are not an object")
            samples.append(
                Sample(labels={str(k): str(v) for k, v in labels.items()}, value=_pair_value(series.get("value")))
            )
        return samples
    if kind == "matrix":
        raise PrometheusError(
            "the query returns a range vector; an SLA query must return an instant vector or a scalar"
        )
    raise PrometheusError(f"result type {kind!r} is not a vector or a scalar")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class PrometheusClient:
    """A thread-safe client; every call is bounded by ``timeout`` seconds.

    Two answers are remembered, so that validating a config asks Prometheus only what may have
    changed: the scrape interval of the last configuration text read (the text is still read
    every time; it is parsed again only when it differs), and the queries Prometheus parsed
    (a query that parses keeps parsing; one that did not is asked again, so a Prometheus
    upgraded to understand it is believed at once)."""

    def __init__(self, base_url: str, timeout: float, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = http or httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._interval: tuple[str, float] | None = None  # (configuration text, its scrape interval)
        self._parsed: dict[str, None] = {}  # queries known to parse, oldest first

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self._http.get(self.base_url + path, params=params, timeout=self.timeout)
        except httpx.TimeoutException:
            raise PrometheusError(f"no answer from Prometheus within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise PrometheusError(f"Prometheus is unreachable ({_one_line(exc) or type(exc).__name__})") from None

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PrometheusError(f"Prometheus answered {response.status_code} without JSON") from None

    def query(self, promql: str) -> list[Sample]:
        """Run an instant query now (Prometheus gives up after the same timeout)."""
        response = self._get("/api/v1/query", {"query": promql, "timeout": f"{self.timeout:g}s"})
        body = self._json(response)
        if response.status_code != 200 and not (isinstance(body, dict) and body.get("status") == "error"):
            raise PrometheusError(f"Prometheus answered {response.status_code}")
        return parse_query_result(body)

    def scrape_interval(self) -> float:
        """The largest scrape interval of the running Prometheus, in seconds."""
        response = self._get("/api/v1/status/config")
        body = self._json(response)
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise PrometheusError(f"Prometheus answered {response.status_code} to /api/v1/status/config")
        data = body.get("data")
        config_yaml = data.get("yaml") if isinstance(data, dict) else None
        if not isinstance(config_yaml, str):
            raise PrometheusError("/api/v1/status/config has no data.yaml")
        known = self._interval
        if known is not None and known[0] == config_yaml:
            return known[1]
        try:
            interval = max_scrape_interval(config_yaml)
        except ValueError as exc:
            raise PrometheusError(f"Prometheus's configuration could not be read: {exc}") from None
        self._interval = (config_yaml, interval)
        return interval

    def syntax_error(self, promql: str) -> str | None:
        """Prometheus's parse error for ``promql``, or None when it parses (or when this
        Prometheus cannot tell: ``/api/v1/format_query`` exists from 2.38 on). Nothing is
        evaluated. A query Prometheus parsed once is not sent again."""
        with self._lock:
            if promql in self._parsed:
                return None
        response = self._get("/api/v1/format_query", {"query": promql})
        if response.status_code == 200:
            self._remember_parsed(promql)
        if response.status_code != 400:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict) and body.get("errorType") == "bad_data":
            return str(body.get("error") or "parse error").removeprefix('invalid parameter "query": ')
        return None

    def _remember_parsed(self, promql: str) -> None:
        with self._lock:
            self._parsed[promql] = None
            while len(self._parsed) > SYNTAX_CACHE_SIZE:
                del self._parsed[next(iter(self._parsed))]

    def ready(self) -> str | None:
        """None when Prometheus answers ``/-/ready`` with 200, else a short reason."""
        try:
            response = self._get("/-/ready")
        except PrometheusError as exc:
            return str(exc)
        return None if response.status_code == 200 else f"not ready (HTTP {response.status_code})"
