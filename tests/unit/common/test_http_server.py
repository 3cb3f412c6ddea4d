"""HttpServer.stop: requests in flight finish, idle keep-alive connections do not hold it up."""

from __future__ import annotations

import socket
import threading
import time

from flask import Flask

from flightctl.services.common.http import HttpServer


def serve(app: Flask) -> HttpServer:
    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    return server


def test_stop_closes_idle_keep_alive_connections() -> None:
    app = Flask("idle")
    app.add_url_rule("/", view_func=lambda: "ok")
    server = serve(app)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"ok"):
            answer += client.recv(1000)
        assert answer.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        server.stop()  # the connection is idle but open, as a Prometheus scraper keeps it
        assert time.monotonic() - began < 2
        assert not server.is_alive()
        assert client.recv(1000) == b""  # closed by the server


def test_stop_lets_a_request_in_flight_finish() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow() -> str:
        entered.set()
        release.wait(5)
        return "finished"

    app = Flask("busy")
    app.add_url_rule("/", view_func=slow)
    server = serve(app)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(5)
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        release.set()
        stopper.join(10)
        answer = b""
        while chunk := client.recv(1000):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"finished")
    assert not server.is_alive()


def test_the_server_names_the_service() -> None:
    app = Flask("named")
    app.add_url_rule("/", view_func=lambda: "ok")
    server = serve(app)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := client.recv(1000):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b"\r\nServer: named\r\n" in answer
    finally:
        server.stop()


def test_a_chunked_body_is_read_and_one_over_the_limit_is_a_413() -> None:
    from collections.abc import Iterator

    import httpx
    from prometheus_client import CollectorRegistry

    from flightctl.services.common.http import MAX_BODY_BYTES, create_http_app, json_body

    app = create_http_app("chunked", api_token=None, registry=CollectorRegistry(), health=dict)
    app.add_url_rule("/echo", view_func=lambda: json_body(), methods=["POST"])
    server = serve(app)

    def pieces(*parts: bytes) -> Iterator[bytes]:
        yield from parts

    def spaces(size: int) -> Iterator[bytes]:
        for start in range(0, size, 65536):
            yield b" " * min(65536, size - start)

    try:
        url = f"http://127.0.0.1:{server.port}/echo"
        assert httpx.post(url, content=pieces(b'{"a": ', b"1}")).json() == {"a": 1}  # no Content-Length
        for size in (MAX_BODY_BYTES + 1, 8 * MAX_BODY_BYTES):
            answer = httpx.post(url, content=spaces(size), timeout=10)
            assert answer.status_code == 413  # not parsed once cut at the limit (that was a 400)
            assert answer.json() == {"error": f"the request body is larger than {MAX_BODY_BYTES} bytes"}
    finally:
        server.stop()


def test_many_idle_keep_alive_connections_stay_open() -> None:
    """The gateway keeps up to 32 idle connections per worker to each service: every one stays
    usable (cheroot's default closed each connection past the tenth after its response)."""
    app = Flask("pooled")
    app.add_url_rule("/", view_func=lambda: "ok")
    server = serve(app)

    def ask(client: socket.socket) -> bytes:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"ok"):
            chunk = client.recv(1000)
            assert chunk, "closed by the server"
            answer += chunk
        return answer

    clients = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(64)]
    try:
        first = [ask(c) for c in clients]  # all 64 idle and open after this
        assert all(a.startswith(b"HTTP/1.1 200") and b"Connection: close" not in a for a in first)
        assert all(ask(c).startswith(b"HTTP/1.1 200") for c in clients)  # the same connections again
    finally:
        for c in clients:
            c.close()
        server.stop()
