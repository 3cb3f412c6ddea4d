"""Benchmark: data-collector's read endpoints over a million stored flights.

Loads ``--rows`` flight rows (default 1,000,000) into the data_collector database of a running
local platform with COPY, spread over ~50 real airports (busy hubs get more traffic) and the last
30 days; then times the flights list (first page and a deep page, all and arrivals only), the
average per day and the last flight with repeated requests, prints p50/p95 per endpoint, the
data-collector's RSS before and after, and EXPLAIN (ANALYZE) of the exact SQL each endpoint runs.

    FLIGHTCTL_HOME=/tmp/dc-bench .venv/bin/python bench/flights_million.py --rows 1000000

Rows it loads have source='bench'; ``--cleanup`` deletes them at the end. Not a test: pytest
never collects this file (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from flightctl.local import postgres  # noqa: E402
from flightctl.local.platform import component_pid  # noqa: E402
from flightctl.platform.layout import Home  # noqa: E402
from flightctl.services.data_collector import service  # noqa: E402

# ~50 real airports; the weight is roughly their relative traffic.
AIRPORTS = {
    "EGLL": 30, "LFPG": 28, "EHAM": 27, "EDDF": 26, "LEMD": 22, "LEBL": 18, "LIRF": 17, "EDDM": 17,
    "LTFM": 25, "EGKK": 13, "LSZH": 12, "LOWW": 12, "EKCH": 11, "ENGM": 11, "ESSA": 10, "EIDW": 11,
    "LPPT": 11, "LEPA": 10, "LIMC": 10, "EBBR": 10, "EFHK": 8, "EPWA": 8, "LGAV": 9, "LKPR": 6,
    "LHBP": 6, "EDDB": 8, "EDDL": 8, "EDDH": 6, "LFMN": 6, "LFLL": 5, "EGCC": 8, "EGSS": 7,
    "EGPH": 5, "LEMG": 7, "LEAL": 5, "LIPZ": 4, "LIML": 4, "LIRN": 4, "LICC": 4, "LIMF": 3,
    "LIPE": 3, "LIBD": 2, "LROP": 5, "LBSF": 3, "LDZA": 2, "LJLJ": 1, "BIKF": 3, "LCLK": 2,
    "LMML": 2, "LTAI": 6,
}  # fmt: skip
AIRLINES = ("AZA", "RYR", "DLH", "AFR", "EZY", "BAW", "KLM", "ITY", "SWR", "IBE", "THY", "WZZ")
COLUMNS = (
    "icao24", "first_seen", "last_seen", "est_departure_airport", "est_arrival_airport", "callsign",
    "est_departure_airport_horiz_distance", "est_departure_airport_vert_distance",
    "est_arrival_airport_horiz_distance", "est_arrival_airport_vert_distance",
    "departure_airport_candidates_count", "arrival_airport_candidates_count", "source",
)  # fmt: skip


def rows(count: int, days: int, seed: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    codes, weights = list(AIRPORTS), list(AIRPORTS.values())
    span = days * 86400
    start = now - timedelta(seconds=span)
    base = rng.randrange(1 << 24)
    for i in range(count):
        dep, arr = rng.choices(codes, weights, k=2)
        while arr == dep:
            arr = rng.choices(codes, weights)[0]
        if rng.random() < 0.05:  # OpenSky sometimes cannot tell one end
            dep, arr = (None, arr) if rng.random() < 0.5 else (dep, None)
        first = start + timedelta(seconds=rng.randrange(span - 3600))
        last = min(now, first + timedelta(seconds=rng.randrange(1800, 5 * 3600)))
        yield (
            f"{(base + i * 2654435761) % (1 << 24):06x}",  # distinct for up to 2^24 rows
            first,
            last,
            dep,
            arr,
            f"{rng.choice(AIRLINES)}{rng.randrange(1, 9999)}",
            rng.randrange(50, 4000) if dep else None,
            rng.randrange(0, 400) if dep else None,
            rng.randrange(50, 4000) if arr else None,
            rng.randrange(0, 400) if arr else None,
            rng.randrange(0, 3),
            rng.randrange(0, 3),
            "bench",
        )


def load(url: str, count: int, days: int, seed: int) -> float:
    import psycopg

    began = time.perf_counter()
    with (
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection,
        connection.cursor() as cursor,
    ):
        with cursor.copy(f"COPY flight_data ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for n, row in enumerate(rows(count, days, seed, datetime.now(UTC)), 1):
                copy.write_row(row)
                if n % 200_000 == 0:
                    print(f"  … {n:,} rows", file=sys.stderr, flush=True)
        connection.commit()
        # what autovacuum does soon after a bulk insert: statistics and the visibility map
        connection.autocommit = True
        cursor.execute("VACUUM (ANALYZE) flight_data")
    return time.perf_counter() - began


def rss_mib(home: Home) -> float | None:
    pid = component_pid(home, "data-collector")  # the service, not its supervisor
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def timed(client: httpx.Client, path: str, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    durations = []
    status = 0
    for _ in range(repeat):
        began = time.perf_counter()
        answer = client.get(path, params=params)
        durations.append((time.perf_counter() - began) * 1000)
        status = answer.status_code
        if status != 200:
            raise SystemExit(f"{path} {params} answered {status}: {answer.text[:200]}")
    durations.sort()
    return {
        "p50": statistics.median(durations),
        "p95": durations[min(len(durations) - 1, round(0.95 * len(durations)))],
        "max": durations[-1],
    }


def explain(engine: Any, statement: Any) -> str:
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = connection.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)).scalars()
        return "\n".join(f"    {line}" for line in plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=os.environ.get("FLIGHTCTL_HOME", ".flightctl"), help="the platform's home")
    parser.add_argument("--rows", type=int, default=1_000_000, help="flight rows to load (0: load nothing)")
    parser.add_argument("--days", type=int, default=30, help="spread the flights over the last N days")
    parser.add_argument("--repeat", type=int, default=200, help="requests per endpoint")
    parser.add_argument("--airport", default="EGLL", help="airport to query (default: the busiest)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cleanup", action="store_true", help="delete the loaded rows at the end")
    args = parser.parse_args(argv)

    home = Home(Path(args.home))
    state = home.load_state()
    if state is None:
        raise SystemExit(f"no local platform in {home.root}; start one with `flightctl up --local`")
    url = postgres.url(state, postgres.DATABASES["data-collector"])
    engine = create_engine(url)
    base = f"http://127.0.0.1:{state.ports.http('data-collector')}"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {state.api_token}"}, timeout=60)
    code = args.airport.upper()

    rss_before = rss_mib(home)
    if args.rows:
        print(f"loading {args.rows:,} flights over {args.days} days and {len(AIRPORTS)} airports …", file=sys.stderr)
        seconds = load(url, args.rows, args.days, args.seed)
        print(f"loaded {args.rows:,} rows in {seconds:.1f}s ({args.rows / seconds:,.0f} rows/s)")
    with engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM flight_data")).scalar_one()
        at_airport = connection.execute(service.average_statement(code, datetime(1970, 1, 1, tzinfo=UTC),
                                                                  datetime.now(UTC))).scalar_one()  # fmt: skip
    deep = max(0, min(at_airport - 100, at_airport * 3 // 4))
    print(f"flight_data holds {total:,} rows; {code} has {at_airport:,} of them; deep page offset {deep:,}")

    client.get(f"/flights/last/{code}")  # warm the connection pool
    endpoints = {
        "list, first page (limit 100)": (f"/flights/{code}", {"limit": 100}),
        f"list, deep page (offset {deep:,})": (f"/flights/{code}", {"limit": 100, "offset": deep}),
        "list arrivals, first page": (f"/flights/{code}", {"type": "arrivals", "limit": 100}),
        "average, last 7 days": (f"/flights/average/{code}", {"days": 7}),
        "average, last 30 days": (f"/flights/average/{code}", {"days": 30}),
        "last flight": (f"/flights/last/{code}", {}),
    }
    print(f"\n{'endpoint':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   ({args.repeat} sequential requests each)")
    for name, (path, params) in endpoints.items():
        figures = timed(client, path, params, args.repeat)
        print(f"{name:<34} {figures['p50']:>8.1f} {figures['p95']:>8.1f} {figures['max']:>8.1f}")
    rss_after = rss_mib(home)
    print(f"\ndata-collector RSS: before {rss_before or 0:.1f} MiB, after {rss_after or 0:.1f} MiB")

    now = datetime.now(UTC)
    plans = {
        "list, first page": service.flights_statement(code, None, 100, 0),
        "list, deep page": service.flights_statement(code, None, 100, deep),
        "list arrivals": service.flights_statement(code, "arrivals", 100, 0),
        "average, 30 days": service.average_statement(code, now - timedelta(days=30), now),
        "last flight": service.last_statement(code),
    }
    for name, statement in plans.items():
        print(f"\nEXPLAIN {name}:\n{explain(engine, statement)}")

    if args.cleanup:
        with engine.begin() as connection:
            deleted = connection.execute(text("DELETE FROM flight_data WHERE source = 'bench'")).rowcount
        print(f"\ndeleted {deleted:,} bench rows")
    client.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
