"""`flightctl loadtest`: N concurrent clients for D seconds against data-collector's read
endpoints (flights list, average, last) of one airport; prints throughput, errors and latency."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's


@cli.command()
def loadtest(
    ctx: typer.Context,
    airport: Annotated[str, typer.Option("--airport", "-a", help="ICAO code of the airport to query")] = "LIRF",
    clients: Annotated[int, typer.Option("--clients", "-c", min=1, max=256, help="concurrent clients")] = 10,
    duration: Annotated[float, typer.Option("--duration", "-d", min=0.1, help="seconds to run")] = 10.0,
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="window of the average")] = 7,
    url: Annotated[
        str | None, typer.Option("--url", help="data-collector base URL (default: the current context's)")
    ] = None,
) -> None:
    """Load the read endpoints and report requests/s, errors and p50/p95/p99 latency.
    Exits 1 when any request failed (the report is printed first)."""
    from flightctl.clients.data_collector import DataCollector

    obj: Context = ctx.obj
    if url:
        base_url = url.rstrip("/")
    else:
        collector = obj.collector
        collector.ping()  # fails with a clear message when the platform is not up
        base_url = collector.base_url
    code = airport.strip().upper()
    obj.progress(f"{clients} client(s) for {duration:g}s against {base_url} ({code})")
    result = run_load(base_url, obj.token(), DataCollector.read_requests(code, days), clients, duration)
    emit(result, obj.output)
    if result["errors"]:
        raise typer.Exit(1)


def run_load(
    base_url: str,
    token: str | None,
    paths: dict[str, tuple[str, dict[str, Any]]],
    clients: int,
    duration: float,
) -> dict[str, Any]:
    """Each client cycles through ``paths`` until ``duration`` is over. A transport error, a 5xx
    or a 4xx other than 404 (no flights stored is an answer) counts as an error."""
    import threading
    import time

    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    errors: dict[str, int] = {name: 0 for name in paths}
    samples: list[str] = []
    deadline = [0.0]
    # The run starts when every client is ready (its connection pool made), not before: the
    # barrier's action sets the deadline before any client is released, so each client makes
    # at least one request however slowly the clients started.
    start = threading.Barrier(clients + 1, action=lambda: deadline.__setitem__(0, time.monotonic() + duration))

    def client(offset: int) -> None:
        names = list(paths)
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
            start.wait()
            i = offset
            while time.monotonic() < deadline[0]:
                name = names[i % len(names)]
                path, params = paths[name]
                i += 1
                began = time.perf_counter()
                try:
                    status = http.get(path, params=params).status_code
                    failed = status >= 500 or (status >= 400 and status != 404)
                    message = f"{name}: HTTP {status}" if failed else ""
                except httpx.HTTPError as exc:
                    failed, message = True, f"{name}: {type(exc).__name__}"
                elapsed = time.perf_counter() - began
                with lock:
                    latencies[name].append(elapsed)
                    if failed:
                        errors[name] += 1
                        if len(samples) < 5:
                            samples.append(message)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(timeout=duration + 60)
    elapsed = time.monotonic() - began
    every = sorted(x for values in latencies.values() for x in values)
    total = len(every)
    result: dict[str, Any] = {
        "clients": clients,
        "duration_seconds": round(elapsed, 2),
        "requests": total,
        "requests_per_second": round(total / elapsed, 1) if elapsed > 0 else 0.0,
        "errors": sum(errors.values()),
        **_percentiles(every),
        "endpoints": {
            name: {"requests": len(values), "errors": errors[name], **_percentiles(sorted(values))}
            for name, values in latencies.items()
        },
    }
    if samples:
        result["error_samples"] = samples
    return result


def _percentiles(ordered: list[float]) -> dict[str, float | None]:
    def at(q: float) -> float | None:
        if not ordered:
            return None
        rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))  # nearest rank
        return round(ordered[rank] * 1000, 2)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}
