"""The HTTP app factory every service uses: JSON errors, bearer auth, metrics, /ping, /health,
/metrics, /openapi.json, a 1 MiB body limit, and a production WSGI server (waitress) to run it."""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from werkzeug.exceptions import HTTPException

from flightctl.services.common import openapi
from flightctl.services.common.errors import DomainError, InvalidInput
from flightctl.services.common.metrics import HttpMetrics

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
# Readable without the API token: probes, the scrape, and the API's own description.
OPEN_PATHS = frozenset({"/ping", "/health", "/metrics", "/openapi.json"})
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")  # never part of an email, a code or a route

HealthCheck = Callable[[], dict[str, str | None]]
"""Returns {component: None when fine, else a short reason}."""


def error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, else InvalidInput (400)."""
    raw = request.get_data(cache=True, parse_form_data=False)
    try:
        payload = json.loads(raw) if raw else None
    except (UnicodeDecodeError, ValueError):
        payload = None
    except RecursionError:
        raise InvalidInput("the request body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be a JSON object")
    if _has_nul(payload):
        raise InvalidInput("the request body must not contain NUL characters")
    return payload


def _has_nul(value: Any) -> bool:
    """True when a string in ``value`` (at any depth) holds a NUL character, which PostgreSQL
    cannot store: it would fail the request with a 500 instead of telling the caller."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def create_http_app(
    service: str,
    *,
    api_token: str | None,
    registry: CollectorRegistry,
    health: HealthCheck,
) -> Flask:
    app = Flask(service, static_folder=None)  # no /static route: a service serves no files
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    metrics = HttpMetrics(registry)

    @app.before_request
    def _begin() -> Any:
        g.started = time.perf_counter()
        metrics.in_progress.labels(service, request.method).inc()
        g.counted = True
        if api_token and request.path not in OPEN_PATHS:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_token.encode()):
                return error("a valid API token is required (Authorization: Bearer <token>)", 401)
        if CONTROL_CHARACTERS.search(request.path):
            return error("the path must not contain control characters", 400)
        if _has_nul(request.args.to_dict(flat=False)):
            return error("the query must not contain NUL characters", 400)
        return None

    @app.after_request
    def _record(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        labels = (service, request.method, endpoint, str(response.status_code))
        metrics.requests.labels(*labels).inc()
        started = g.get("started")
        if started is not None:
            metrics.duration.labels(*labels).observe(time.perf_counter() - started)
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        if g.pop("counted", False):
            metrics.in_progress.labels(service, request.method).dec()

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> tuple[Response, int]:
        return error(exc.message, exc.http_status)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        messages = {
            404: "no such endpoint",
            405: f"method {request.method} is not allowed here",
            413: f"the request body is larger than {MAX_BODY_BYTES} bytes",
        }
        status = exc.code or 500
        return error(messages.get(status, exc.description or exc.name), status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error("internal error; see the service log", 500)

    @app.get("/ping")
    def ping() -> Response:
        return jsonify({"message": "pong"})

    @app.get("/health")
    def health_view() -> tuple[Response, int]:
        checks = health()
        down = {name: reason for name, reason in checks.items() if reason}
        body: dict[str, Any] = {
            "status": "down" if down else "ok",
            "checks": {name: reason or "ok" for name, reason in checks.items()},
        }
        if down:
            body["error"] = "unhealthy: " + ", ".join(f"{k} ({v})" for k, v in down.items())
        return jsonify(body), 503 if down else 200

    @app.get("/metrics")
    def metrics_view() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json")
    def openapi_view() -> tuple[Response, int]:
        described = openapi.document(service)
        if described is None:
            return error(f"{service} ships no OpenAPI document", 404)
        return jsonify(described), 200

    return app


class HttpServer:
    """Runs a WSGI app under waitress in a background thread; stop() closes it."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 8) -> None:
        from waitress.server import create_server

        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident=app.name,
            clear_untrusted_proxy_headers=True,
        )
        self._thread = threading.Thread(target=self._run, name=f"http-{app.name}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError as exc:  # close() from another thread interrupts the select loop
            log.debug("HTTP loop ended: %s", exc)

    def start(self) -> None:
        self._thread.start()
        log.info("HTTP listening on %s:%s", self._server.effective_host, self.port)  # type: ignore[union-attr]

    def stop(self) -> None:
        """Let requests in flight finish (up to 5 s), then close every connection, idle
        keep-alive ones included (Prometheus keeps one open), so the loop ends at once."""
        server: Any = self._server
        server.task_dispatcher.shutdown(timeout=5)
        if not self._thread.is_alive():
            server.close()
            return

        def close_all() -> None:  # runs in the loop thread: the map is not touched concurrently
            for channel in list(server._map.values()):
                channel.close()

        try:
            server.trigger.pull_trigger(close_all)
        except OSError:  # the trigger is already closed
            server.close()
        self._thread.join(timeout=5)
