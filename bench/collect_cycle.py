"""Benchmark: one collection cycle (``POST /collect``) over many airports, against a fake OpenSky
that answers every flights call with about ``--flights`` flights, with data-collector's peak RSS.

A private local platform (fresh FLIGHTCTL_HOME, its own port base, always taken down) whose
collector calls the fake below, anonymously, with a daily budget large enough for the cycle
(``OPENSKY_CREDITS_PER_DAY=1000000``: a cycle fetches each airport's latest complete day, with
the day before in the same call, arrivals and departures: 2 calls of 30 credits an airport,
60 x 500 = 30,000, plus the 10% reserve). One user watches ``--airports`` real airports (the
busiest by the airportsdata list order that have an IATA code), each with thresholds, so the
cycle also publishes one reading per interest to Kafka. Each run times ``POST /collect`` (the
whole cycle: every call, the upserts, the readings published) while sampling data-collector's
VmRSS every 50 ms; between runs the collected flights, days and credits are deleted, so every
run fetches everything again.

The fake is a plain threaded HTTP server in this process: ``/api/flights/arrival`` and
``/api/flights/departure`` answer a deterministic list for (airport, begin, end) made on the
fly (no stored list to scan), with ``X-Rate-Limit-Remaining``.

    .venv/bin/python bench/collect_cycle.py [--airports 500] [--flights 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import airportsdata
import pipeline_common as common
from sqlalchemy import create_engine, text

DEFAULT_PORT_BASE = 27700


class FakeFlights(BaseHTTPRequestHandler):
    """OpenSky's flights API, generated: about ``per_call`` flights per call."""

    per_call = 200
    calls = 0
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        kind = {"/api/flights/arrival": "arrival", "/api/flights/departure": "departure"}.get(url.path)
        if kind is None:
            self._send(404, b"")
            return
        query = dict(parse_qsl(url.query))
        airport, begin, end = query["airport"], int(query["begin"]), int(query["end"])
        with FakeFlights.lock:
            FakeFlights.calls += 1
        rng = random.Random(f"{airport}/{kind}/{begin}/{end}")
        count = rng.randint(int(self.per_call * 0.9), int(self.per_call * 1.1))
        flights = []
        for i in range(count):
            at = rng.randint(begin, end - 1)
            span = rng.randint(1800, 14400)
            first, last = (at - span, at) if kind == "arrival" else (at, at + span)
            other = rng.choice(("EGLL", "LFPG", "EDDF", "LIRF", "KJFK", None))
            flights.append({
                "icao24": f"{rng.randrange(1 << 24):06x}",
                "firstSeen": first,
                "lastSeen": last,
                "estDepartureAirport": other if kind == "arrival" else airport,
                "estArrivalAirport": airport if kind == "arrival" else other,
                "callsign": f"BEN{i:04d}  ",
                "estDepartureAirportHorizDistance": rng.randint(0, 4000),
                "estDepartureAirportVertDistance": rng.randint(0, 400),
                "estArrivalAirportHorizDistance": rng.randint(0, 4000),
                "estArrivalAirportVertDistance": rng.randint(0, 400),
                "departureAirportCandidatesCount": rng.randint(0, 3),
                "arrivalAirportCandidatesCount": rng.randint(0, 3),
            })  # fmt: skip
        self._send(200, json.dumps(flights).encode(), {"X-Rate-Limit-Remaining": "1000000"})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def summarise(answer: dict) -> dict:
    """The cycle's answer without its per-airport rows (500 of them): their sources and errors counted."""
    rows = answer.pop("airports", [])
    answer["airports_by_source"] = dict(Counter(row["source"] for row in rows))
    answer["airports_with_error"] = sum(1 for row in rows if row.get("error"))
    return answer


def airports(count: int) -> list[str]:
    """``count`` real ICAO codes with an IATA code (airports the collector accepts)."""
    found = [code for code, a in airportsdata.load("ICAO").items() if a.get("iata") and len(code) == 4]
    return sorted(found)[:: max(1, len(found) // count)][:count]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--airports", type=int, default=500)
    parser.add_argument("--flights", type=int, default=200, help="about this many flights per OpenSky call")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE)
    parser.add_argument("--json", help="where to write the result (default bench/results/collect-cycle-<time>.json)")
    args = parser.parse_args(argv)
    FakeFlights.per_call = args.flights
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeFlights)
    fake.daemon_threads = True
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{fake.server_address[1]}/api"
    result: dict[str, Any] = {
        "benchmark": "collect_cycle",
        "commit": common.git_commit(),
        "machine": common.machine(),
        "others_at_start": common.others_running(),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "runs": [],
    }
    codes = airports(args.airports)
    settings = {
        "OPENSKY_API_URL": api,
        "OPENSKY_CREDITS_PER_DAY": "1000000",
        "OPENSKY_BATCH_DELAY_HOURS": "0",
    }
    try:
        with common.local_platform(args.port_base, **settings) as platform:
            email = f"collect-{uuid.uuid4().hex[:8]}@example.com"
            with platform.client("user-manager") as users, platform.client("data-collector") as collector:
                created = users.post("/users", json={"email": email, "first_name": "Ada", "last_name": "Lovelace"},
                                     headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
                assert created.status_code == 201, created.text
                for code in codes:
                    added = collector.post("/interests", json={"email": email, "airport_code": code,
                                                               "high_value": 100000, "low_value": 0})  # fmt: skip
                    assert added.status_code == 201, (code, added.text)
            print(f"» {len(codes)} interests", file=sys.stderr)
            engine = create_engine(platform.database_url("data-collector"))
            pid = platform.pid("data-collector")
            with platform.client("data-collector") as collector:
                collector.timeout = 600
                for n in range(args.repeat):
                    with engine.begin() as connection:
                        connection.execute(text("TRUNCATE flight_data, collected_days, credit_usage"))
                    FakeFlights.calls = 0
                    peak, stop = [rss_mib(pid)], threading.Event()
                    before = peak[0]

                    def sample(peak: list[float] = peak, stop: threading.Event = stop) -> None:
                        while not stop.wait(0.05):
                            peak[0] = max(peak[0], rss_mib(pid))

                    sampler = threading.Thread(target=sample, daemon=True)
                    sampler.start()
                    load1 = round(os.getloadavg()[0], 2)
                    began = time.perf_counter()
                    answer = collector.post("/collect")
                    seconds = time.perf_counter() - began
                    stop.set()
                    sampler.join()
                    assert answer.status_code == 200, answer.text
                    with engine.connect() as connection:
                        stored = connection.execute(text("SELECT count(*) FROM flight_data")).scalar_one()
                    run = {
                        "seconds": round(seconds, 2),
                        "opensky_calls": FakeFlights.calls,
                        "flights_stored": stored,
                        "rss_before_mib": round(before, 1),
                        "peak_rss_mib": round(peak[0], 1),
                        "load_1m": load1,
                        "answer": summarise(answer.json()),
                    }
                    result["runs"].append(run)
                    print(f"run {n + 1}: {seconds:.2f} s, {run['opensky_calls']} calls, {stored:,} flights stored, "
                          f"data-collector RSS {before:.0f} -> peak {peak[0]:.0f} MiB (load {load1})")  # fmt: skip
            engine.dispose()
    finally:
        fake.shutdown()
    result["summary"] = {
        "seconds": common.spread([r["seconds"] for r in result["runs"]]),
        "peak_rss_mib": common.spread([r["peak_rss_mib"] for r in result["runs"]]),
    }
    s = result["summary"]
    print(f"\ncycle of {len(codes)} airports: median {s['seconds']['median']} s ({s['seconds']['min']}-"
          f"{s['seconds']['max']}); peak RSS median {s['peak_rss_mib']['median']} MiB "
          f"({s['peak_rss_mib']['min']}-{s['peak_rss_mib']['max']})")  # fmt: skip
    common.write_result("collect-cycle", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
