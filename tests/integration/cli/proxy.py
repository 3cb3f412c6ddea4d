"""An HTTP proxy on 127.0.0.1 that can lose answers on purpose.

For the first ``drop`` requests it forwards the request upstream, reads the whole answer (so
the server has committed), and closes the client's connection without sending it: to the client
this is a connection that broke before the response. Later requests are forwarded normally.
One request per connection.
"""

from __future__ import annotations

import socket

from tests.fakes.http import Exchange, HttpFake


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length body (what waitress sends here)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class DroppingProxy(HttpFake):
    methods = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, upstream_port: int, drop: int = 1) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.drop = drop
        self.dropped = 0

    @property
    def requests(self) -> list[bytes]:
        """Every request received, as the bytes forwarded upstream, oldest first."""
        return [request.raw for request in self.received]

    def handle(self, exchange: Exchange) -> None:
        """Forward the request and read the whole answer; lose it or pass it back."""
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10) as upstream:
            upstream.sendall(exchange.request.raw)
            answer = _read_message(upstream)
        with self._cond:
            lose = self.dropped < self.drop
            if lose:
                self.dropped += 1
        if lose:
            exchange.drop()  # the answer is lost on the way back
        else:
            exchange.send_raw(answer)
