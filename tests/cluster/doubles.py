"""The fake OpenSky and Telegram (tests/fakes) as workloads of the test cluster: the API
doubles the platform on the cluster is pointed at (OPENSKY_API_URL, OPENSKY_TOKEN_URL,
TELEGRAM_API_URL) instead of the real APIs.

    python -m tests.cluster.doubles opensky --port 8080 --client-id ID --client-secret SECRET
    python -m tests.cluster.doubles telegram --port 8080 --token TOKEN

Each serves its API on 0.0.0.0:PORT exactly as the in-process fake does, and under
``/_double/`` what a test outside the pod needs to script and read it (the in-process tests
call the fake's methods instead):

    GET  /_double/ready       200 once serving (the readiness probe)
    POST /_double/flights     opensky: a JSON list of OpenSky flight objects to add
    GET  /_double/requests    opensky: {"token_requests": N, "flight_requests": [{"path", "query", "bearer"}]}
    GET  /_double/messages    telegram: every delivered message, oldest first ({"chat_id", "text", ...})

The image (``k8s-local.sh images doubles``) is the harness's Python base with tests/fakes and
this file in it, nothing else: the fakes need only the standard library.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from tests.fakes.http import Exchange, serve_until_signalled
from tests.fakes.opensky import FakeOpenSky
from tests.fakes.telegram import FakeTelegram

CONTROL = "/_double/"


def _ready(exchange: Exchange) -> bool:
    if exchange.request.path == CONTROL + "ready":
        exchange.send_json(200, {"ready": True})
        return True
    return False


class OpenSkyDouble(FakeOpenSky):
    def handle(self, exchange: Exchange) -> None:
        request = exchange.request
        if not request.path.startswith(CONTROL):
            super().handle(exchange)
        elif _ready(exchange):
            pass
        elif request.path == CONTROL + "flights" and request.method == "POST":
            flights = json.loads(request.body or b"[]")
            if not isinstance(flights, list):
                exchange.send_json(400, {"error": "a JSON list of flights"})
                return
            self.add_flights(flights)
            exchange.send_json(200, {"flights": len(self.flights)})
        elif request.path == CONTROL + "requests":
            exchange.send_json(
                200,
                {
                    "token_requests": self.token_requests,
                    "flight_requests": [
                        {
                            "path": r.path,
                            "query": r.query,
                            "bearer": r.headers.get("authorization", "").startswith("Bearer "),
                        }
                        for r in self.flight_requests()
                    ],
                },
            )
        else:
            exchange.send_json(404, {"error": f"no control path {request.path}"})


class TelegramDouble(FakeTelegram):
    def handle(self, exchange: Exchange) -> None:
        request = exchange.request
        if not request.path.startswith(CONTROL):
            super().handle(exchange)
        elif _ready(exchange):
            pass
        elif request.path == CONTROL + "messages":
            messages = []
            for message in self.messages:
                record = asdict(message)
                record.pop("params", None)
                messages.append(record)
            exchange.send_json(200, messages)
        else:
            exchange.send_json(404, {"error": f"no control path {request.path}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.doubles", description=__doc__)
    parser.add_argument("api", choices=("opensky", "telegram"))
    parser.add_argument("--host", default="0.0.0.0")  # a pod's port, behind its Service
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--client-id", default="test-client")
    parser.add_argument("--client-secret", default="test-secret")
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    args = parser.parse_args(argv)
    if args.api == "opensky":
        fake: OpenSkyDouble | TelegramDouble = OpenSkyDouble(
            client_id=args.client_id, client_secret=args.client_secret, host=args.host, port=args.port
        )
    else:
        fake = TelegramDouble(token=args.token, host=args.host, port=args.port)
    return serve_until_signalled(fake, lambda: print(f"{args.api} double on {fake.url}", flush=True))


if __name__ == "__main__":
    sys.exit(main())
