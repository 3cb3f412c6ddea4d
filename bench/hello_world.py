"""The hello-world baseline of bench/read_saturation.py: a WSGI app that answers a constant JSON
body, served by the services' own HTTP server (flightctl.services.common.http.HttpServer, the
same class and settings every service runs), until SIGTERM.

    .venv/bin/python bench/hello_world.py PORT
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from flightctl.services.common.http import HttpServer  # noqa: E402

BODY = b'{"message": "hello"}\n'


class Hello:
    """The WSGI app (a class only for the ``name`` HttpServer reads, as it does of a Flask app)."""

    name = "hello-world"

    def __call__(self, _environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
        return [BODY]


def main() -> None:
    server = HttpServer(Hello(), "127.0.0.1", int(sys.argv[1]))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(f"hello world on 127.0.0.1:{server.port}", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
