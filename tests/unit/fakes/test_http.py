"""Self-tests of tests.fakes.http, the base of the fake servers, over real HTTP with http.client
(``serve_until_signalled`` is exercised by the fakes' standalone-process tests)."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.fakes.http import Exchange, HttpFake


class Echo(HttpFake):
    """Answers every request with its own record as JSON; ``/drop`` gets no answer at all."""

    def handle(self, exchange: Exchange) -> None:
        request = exchange.request
        if request.path == "/drop":
            exchange.drop()
            return
        echo = {"path": request.path, "query": request.query, "form": request.form, "body": request.body.decode()}
        exchange.send_json(200, echo, {"X-Echo": request.method})


class KeepAlive(Echo):
    methods = frozenset({"GET", "HEAD"})
    protocol_version = "HTTP/1.1"
    server_version = "KeepAlive/2.0"

    def handle(self, exchange: Exchange) -> None:
        exchange.send(200, b"body", "text/plain")


@pytest.fixture
def echo() -> Iterator[Echo]:
    with Echo() as server:
        yield server


def connect(fake: HttpFake) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(fake.host, fake.port, timeout=5)


def test_binds_a_free_port_on_localhost_and_answers_json(echo: Echo) -> None:
    assert echo.host == "127.0.0.1" and echo.port > 0
    assert echo.url == f"http://127.0.0.1:{echo.port}"
    conn = connect(echo)
    conn.request("GET", "/a%20b/?x=1&empty=")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("X-Echo") == "GET"
    assert response.getheader("Server", "").startswith("FakeHTTP/1.0")
    assert json.loads(response.read()) == {"path": "/a b", "query": {"x": "1", "empty": ""}, "form": {}, "body": ""}
    assert response.will_close  # HTTP/1.0 unless the fake asks for more
    conn.close()


def test_every_request_is_recorded(echo: Echo) -> None:
    assert echo.received == [] and not echo.wait_for_received(1, timeout=0.01)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": ""})
    conn = connect(echo)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Trace": "abc"}
    conn.request("POST", "/token/", body=form, headers=headers)
    assert json.loads(conn.getresponse().read())["form"] == {"grant_type": "client_credentials", "scope": ""}
    conn.close()
    assert echo.wait_for_received(1, timeout=1)
    (request,) = echo.received
    assert (request.method, request.target, request.path, request.query) == ("POST", "/token/", "/token", {})
    assert request.headers["x-trace"] == "abc" and request.headers["content-length"] == str(len(form))
    assert request.body == form.encode() and abs(request.time - time.time()) < 5
    line, _, rest = request.raw.partition(b"\r\n")
    assert line == b"POST /token/ HTTP/1.1"
    assert b"X-Trace: abc\r\n" in rest and rest.endswith(b"\r\n\r\n" + form.encode())
    assert echo.wait_for_received(1, timeout=0.01, where=lambda r: r.path == "/token")
    assert not echo.wait_for_received(1, timeout=0.01, where=lambda r: r.path == "/other")


def test_a_method_the_fake_does_not_serve_is_501_and_not_recorded(echo: Echo) -> None:
    conn = connect(echo)
    conn.request("PUT", "/x", body=b"{}")
    assert conn.getresponse().status == 501
    conn.close()
    assert echo.received == []


def test_drop_closes_the_connection_without_an_answer(echo: Echo) -> None:
    conn = connect(echo)
    conn.request("GET", "/drop")
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    conn.close()
    assert [r.path for r in echo.received] == ["/drop"]


def test_http_1_1_keeps_the_connection_and_head_has_no_body() -> None:
    with KeepAlive() as fake:
        conn = connect(fake)
        conn.request("HEAD", "/")
        head = conn.getresponse()
        assert (head.status, head.getheader("Content-Length"), head.read()) == (200, "4", b"")
        conn.request("GET", "/")
        response = conn.getresponse()
        assert (response.read(), response.will_close) == (b"body", False)
        assert response.getheader("Server", "").startswith("KeepAlive/2.0")
        conn.close()
        assert [r.method for r in fake.received] == ["HEAD", "GET"]


def test_restart_rebinds_the_same_port_and_a_running_fake_cannot_start_again() -> None:
    fake = Echo().start()
    try:
        with pytest.raises(RuntimeError, match="Echo is already running"):
            fake.start()
        port = fake.port
        fake.stop()
        fake.stop()  # stopping twice is harmless
        with pytest.raises(ConnectionRefusedError):
            connect(fake).request("GET", "/")
        fake.start()
        assert fake.port == port
        conn = connect(fake)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        fake.stop()
