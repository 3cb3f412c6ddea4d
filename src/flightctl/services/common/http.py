"""The HTTP app factory every service uses: JSON errors, bearer auth with scoped tokens
(flightctl.services.common.auth), metrics, /ping, /health, /metrics, /openapi.json, a 1 MiB body
limit, and a production WSGI server (cheroot) to run it."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import cheroot.wsgi
from flask import Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from flightctl.services.common import auth, openapi
from flightctl.services.common.errors import DomainError, InvalidInput
from flightctl.services.common.metrics import HttpMetrics

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
# Readable without the API token: probes, the scrape, and the API's own description.
OPEN_PATHS = frozenset({"/ping", "/health", "/metrics", "/openapi.json"})
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")  # never part of an email, a code or a route
SHUTDOWN_TIMEOUT_SECONDS = 5
LISTEN_BACKLOG = 1024
THREADS = 8
"""Worker threads of each service's HTTP server."""

HealthCheck = Callable[[], dict[str, str | None]]
"""Returns {component: None when fine, else a short reason}."""


def error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, else InvalidInput (400)."""
    raw = request.get_data(cache=True, parse_form_data=False)
    if request.content_length is None and len(raw) >= MAX_BODY_BYTES:
        # A chunked body (no Content-Length) is cut at the limit by the framework, which would
        # then parse what is left: refuse it instead (one at exactly the limit too).
        raise RequestEntityTooLarge()
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
    tokens: auth.Lookup | None = None,
) -> Flask:
    """``api_token`` is the bootstrap token (admin; None: no authentication at all);
    ``tokens`` looks scoped tokens up (None: only the bootstrap token is accepted)."""
    app = Flask(service, static_folder=None)  # no /static route: a service serves no files
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    metrics = HttpMetrics(registry)
    authenticator = auth.Authenticator(api_token, tokens)
    # The label children of the request metrics, looked up once per label set (labels() takes
    # a lock and checks its arguments on every call).
    in_progress: dict[str, Any] = {}
    observed: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def gauge(method: str) -> Any:
        child = in_progress.get(method)
        if child is None:
            child = in_progress[method] = metrics.in_progress.labels(service, method)
        return child

    @app.before_request
    def _begin() -> Any:
        g.started = time.perf_counter()
        gauge(request.method).inc()
        g.counted = True
        path = request.path
        if authenticator.enabled and path not in OPEN_PATHS:
            refused = _authorize(authenticator)
            if refused is not None:
                return refused
        if CONTROL_CHARACTERS.search(path):
            return error("the path must not contain control characters", 400)
        if request.query_string and _has_nul(request.args.to_dict(flat=False)):
            return error("the query must not contain NUL characters", 400)
        return None

    @app.after_request
    def _record(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        key = (request.method, endpoint, str(response.status_code))
        children = observed.get(key)
        if children is None:
            labels = (service, *key)
            children = observed[key] = (metrics.requests.labels(*labels), metrics.duration.labels(*labels))
        children[0].inc()
        started = g.get("started")
        if started is not None:
            children[1].observe(time.perf_counter() - started)
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        if g.pop("counted", False):
            gauge(request.method).dec()

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

    def _database_unavailable(exc: Exception) -> tuple[Response, int]:
        """The database refused, dropped or did not give a connection (a restart, an outage):
        the request was not applied (its transaction never committed); the client may retry."""
        reason = str(exc).strip().splitlines()
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.path,
            reason[0] if reason else type(exc).__name__,
        )
        response, status = error("the database is unavailable; try again shortly", 503)
        response.headers["Retry-After"] = "1"
        return response, status

    import psycopg
    from sqlalchemy import exc as sql

    for unavailable in (sql.OperationalError, sql.InterfaceError, sql.TimeoutError, psycopg.OperationalError):
        app.register_error_handler(unavailable, _database_unavailable)

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


def _authorize(authenticator: auth.Authenticator) -> tuple[Response, int] | None:
    """None when the request's bearer token may make it; else the 401, 403 or 503 answer. The
    token itself is never logged nor echoed."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return error("a valid API token is required (Authorization: Bearer <token>)", 401)
    try:
        principal = authenticator.authenticate(given)
    except auth.StoreUnavailable:
        return error("the API token cannot be checked now (user-manager is unreachable); retry later", 503)
    if principal is None:
        return error("the API token is not valid (unknown or revoked)", 401)
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    needed = auth.needed_scope(request.method, view)
    if not auth.allows(principal.scope, needed):
        return error(f"this API token's scope ({principal.scope}) does not allow this request: it needs {needed}", 403)
    g.token_id = principal.token_id
    return None


class _CherootServer(cheroot.wsgi.Server):
    """cheroot's WSGI server with its two documented knobs for subclasses set: errors go to
    logging, and the connection loop wakes every 0.1 s (instead of 0.5 s) to expire idle
    connections and to notice stop(), which waits for it."""

    expiration_interval = 0.1
    # Idle keep-alive connections kept open (cheroot's default is 10: past that it closes each
    # connection after its response). The gateway keeps up to 32 idle connections per worker
    # to each service; with the default, under load about a third of its requests opened a new
    # TCP connection to the service (and the service accepted it), both sides paying for it.
    keep_alive_conn_limit = 256

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.log(level, "%s", msg, exc_info=traceback)


class HttpServer:
    """Runs a WSGI app under cheroot in a background thread: start() binds and serves, stop()
    lets requests in flight finish (up to ``SHUTDOWN_TIMEOUT_SECONDS``) and closes every
    connection, idle keep-alive ones included (Prometheus keeps one open), so it returns at once."""

    def __init__(self, app: Callable[..., Any], host: str, port: int, threads: int = THREADS) -> None:
        """``app``: a WSGI application, a Flask app or any other (the benchmarks' hello world)."""
        name = str(getattr(app, "name", None) or getattr(app, "__name__", "wsgi"))
        self._server = _CherootServer(
            (host, port),
            app,
            numthreads=threads,
            server_name=name,
            request_queue_size=LISTEN_BACKLOG,
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        )
        self._thread = threading.Thread(target=self._server.serve, name=f"http-{name}", daemon=True)

    @property
    def port(self) -> int:
        """The bound port (the one given, or the one the system chose for 0), once started."""
        return int(self._server.bind_addr[1])

    def start(self) -> None:
        self._server.prepare()
        self._thread.start()
        log.info("HTTP listening on %s:%s", self._server.bind_addr[0], self.port)

    def stop(self) -> None:
        self._server.stop()  # returns at once when it never started
        if self._thread.ident is not None:
            self._thread.join(timeout=SHUTDOWN_TIMEOUT_SECONDS)

    def is_alive(self) -> bool:
        """Whether the accept loop is still running."""
        return self._thread.is_alive()
