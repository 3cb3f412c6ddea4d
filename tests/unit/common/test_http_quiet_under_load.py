"""A backlog is not an event to log: with every worker busy and requests queueing (what 100
load-test users did to the services), the HTTP server writes no line per request or per queued
request. Under the former server (waitress) each queued request logged "Task queue depth is N"
at WARNING on the ``waitress.queue`` logger, which is why setting that logger to WARNING let
every one of them through; the server in use (cheroot) logs errors only."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask

from flightctl.services.common.http import HttpServer


def test_a_queue_of_waiting_requests_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    app = Flask("busy")
    app.add_url_rule("/", view_func=lambda: "ok" if release.wait(10) else "late")
    server = HttpServer(app, "127.0.0.1", 0, threads=2)
    server.start()
    caplog.set_level(logging.DEBUG)
    try:
        with ThreadPoolExecutor(max_workers=60) as pool:
            answers = [pool.submit(httpx.get, f"http://127.0.0.1:{server.port}/", timeout=30) for _ in range(60)]
            threading.Timer(1.0, release.set).start()  # the 58 others queue meanwhile
            codes = [answer.result().status_code for answer in answers]
    finally:
        release.set()
        server.stop()
    assert codes == [200] * 60
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or "queue" in r.getMessage().lower()]
    assert noisy == []
