"""A one-request-per-connection HTTP proxy on 127.0.0.1 that can lose answers on purpose.

For the first ``drop`` connections it forwards the request upstream, reads the whole answer (so
the server has committed), and closes the client's socket without sending it: to the client
this is a connection that broke before the response. Later connections are forwarded normally.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from types import TracebackType


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length body (what httpx and waitress send here)."""
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


@dataclass
class DroppingProxy:
    upstream_port: int
    drop: int = 1
    requests: list[bytes] = field(default_factory=list)
    dropped: int = 0

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(10)
                request = _read_message(client)
                if not request:
                    continue
                self.requests.append(request)
                with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10) as upstream:
                    upstream.sendall(request)
                    answer = _read_message(upstream)
                if self.dropped < self.drop:
                    self.dropped += 1
                    client.shutdown(socket.SHUT_RDWR)  # the answer is lost on the way back
                    continue
                client.sendall(answer)
