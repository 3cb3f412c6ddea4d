"""The one base of the small HTTP servers the tests run in-process on 127.0.0.1.

A server subclasses :class:`HttpFake` and implements :meth:`HttpFake.handle`, which gets an
:class:`Exchange`: the parsed :class:`Request` (``exchange.request``) and the ways to answer
it (``send``, ``send_json``, ``send_raw``, ``drop``). The base owns the rest: binding (port 0
lets the OS choose a free one; after ``stop()`` the next ``start()`` rebinds the same port),
the serving thread, ``start``/``stop``, ``port`` and ``url``, use as a context manager, a
record of every request received (``received``, ``wait_for_received``) and, for a standalone
fake, :func:`serve_until_signalled`.

Subclasses keep their own state under ``self._cond`` (the base records under it too and
notifies it on every request and on ``stop()``), and wait on it with ``self._wait_for``;
``self._stopping`` is set while the server stops, to cut delays and long polls short.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, unquote, urlsplit

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    """One request as received.

    ``target`` is the request target as sent (path and query string); ``path`` is its path,
    percent-decoded and without trailing slashes (``/`` for the root); ``query`` the parsed
    query string (blank values kept); header names are lower-cased; ``raw`` is the request
    line, the headers as sent and the body, as bytes.
    """

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float
    raw: bytes = field(repr=False)

    @property
    def form(self) -> dict[str, str]:
        """The body's fields when it is ``application/x-www-form-urlencoded``, else empty."""
        if "application/x-www-form-urlencoded" not in self.headers.get("content-type", ""):
            return {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


class Exchange:
    """One request and its answer: a fake reads ``request`` and answers with one of the
    methods below (or none, with ``drop``)."""

    def __init__(self, request: Request, handler: _Handler) -> None:
        self.request = request
        self._handler = handler

    def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Write a complete answer with Content-Length (no body to a HEAD request)."""
        h = self._handler
        h.send_response(status)
        if content_type:
            h.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and self.request.method != "HEAD":
            h.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        """Write a JSON answer (UTF-8)."""
        self.send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json", headers)

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` as it is (a whole answer taken from elsewhere), then close."""
        self._handler.wfile.write(data)
        self._handler.close_connection = True

    def drop(self) -> None:
        """Close the connection without (any more of) an answer."""
        self._handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server_version = self.server.server_version
        self.protocol_version = self.server.protocol_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the fakes' records instead."""

    def do_GET(self) -> None:
        """Hand the request to the fake (every method alike)."""
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def dispatch(self) -> None:
        """Read the request and hand it to the fake; a method the fake does not serve is
        answered 501, as ``BaseHTTPRequestHandler`` does."""
        if self.command not in self.server.methods:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        head = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        request = Request(
            method=self.command,
            target=self.path,
            path=unquote(split.path).rstrip("/") or "/",
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            time=time.time(),
            raw=f"{self.requestline}\r\n{head}\r\n".encode("latin-1") + body,
        )
        self.server.on_request(Exchange(request, self))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        on_request: Callable[[Exchange], None],
        *,
        methods: frozenset[str],
        server_version: str,
        protocol_version: str,
    ) -> None:
        super().__init__(address, _Handler)
        self.on_request = on_request
        self.methods = methods
        self.server_version = server_version
        self.protocol_version = protocol_version

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (timeouts, dropped connections); report the rest."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class HttpFake:
    """An HTTP server on ``host`` (127.0.0.1) serving in a background thread.

    Class attributes a subclass may set: ``methods`` (the HTTP methods it serves; others get
    501), ``server_version`` (the ``Server`` header) and ``protocol_version`` (``HTTP/1.1``
    keeps connections alive).
    """

    methods: ClassVar[frozenset[str]] = frozenset({"GET", "POST"})
    server_version: ClassVar[str] = "FakeHTTP/1.0"
    protocol_version: ClassVar[str] = "HTTP/1.0"

    def __init__(self, host: str = HOST, port: int = 0) -> None:
        self.host = host
        self._port = port
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._received: list[Request] = []

    # -- what a subclass implements ---------------------------------------------------------

    def handle(self, exchange: Exchange) -> None:
        """Answer ``exchange.request`` (already recorded) through ``exchange``."""
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; after ``stop()`` it rebinds the same port."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
        server = _Server(
            (self.host, self._port),
            self._receive,
            methods=self.methods,
            server_version=self.server_version,
            protocol_version=self.protocol_version,
        )
        self._port = server.server_address[1]
        self._server = server
        name = f"{type(self).__name__}:{self._port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; waits, delays and long polls are cut short."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (0 before the first ``start()`` when OS-chosen)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    # -- recording -------------------------------------------------------------------------

    @property
    def received(self) -> list[Request]:
        """Every request received (a copy), oldest first."""
        with self._cond:
            return list(self._received)

    def wait_for_received(self, n: int, timeout: float, where: Callable[[Request], bool] | None = None) -> bool:
        """Wait until at least ``n`` requests (those ``where`` accepts, when given) were received."""
        return self._wait_for(lambda: sum(where is None or where(r) for r in self._received) >= n, timeout)

    # -- for subclasses --------------------------------------------------------------------

    def _wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait on ``self._cond`` (held while ``predicate`` runs) until ``predicate`` is true."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout=timeout)

    def _receive(self, exchange: Exchange) -> None:
        with self._cond:
            self._received.append(exchange.request)
            self._cond.notify_all()
        self.handle(exchange)


def serve_until_signalled(fake: HttpFake, ready: Callable[[], None]) -> int:
    """Run ``fake`` until SIGTERM or SIGINT; ``ready`` runs once it serves (to print its URL)."""
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with fake:
        ready()
        done.wait()
    return 0
