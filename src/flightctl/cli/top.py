"""`flightctl top`: a live view of the platform, refreshed every few seconds.

Each frame is read from the platform of the context (each component's health), Prometheus's
HTTP API (per service: requests, 5xx, rate, error ratio and p95 latency, without the probes
and scrapes of /health, /ping and /metrics; the collector's last successful cycle; Kafka
consumer lag per service and topic; alerts emitted, notifications and SLA breaches in the last
hour) and data-collector's
/collector/status (credits, next planned fetches). A source that does not answer becomes one
line naming it; the rest of the frame is still shown. On a Kubernetes context Prometheus is
reached through `flightctl port-forward` (started when none runs).

"In the last hour" is exact: a counter's value now minus its value an hour ago (0 when the
series is younger; the value now when the counter restarted in between), not PromQL's
extrapolating increase(), so the numbers equal the services' own /metrics.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit, fancy
from flightctl.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from flightctl.clients.prometheus import Prometheus

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
FLIGHTCTL_PROMETHEUS_URL = "FLIGHTCTL_PROMETHEUS_URL"
NOT_SCRAPES = 'endpoint!~"/metrics|/health|/ping"'  # the requests of clients, not of probes and scrapes
QUERIES = {
    "requests": f"sum by (service) (http_requests_total{{{NOT_SCRAPES}}})",
    "errors": f'sum by (service) (http_requests_total{{{NOT_SCRAPES},status=~"5.."}})',
    "rate": f"sum by (service) (rate(http_requests_total{{{NOT_SCRAPES}}}[1m]))",
    "error_rate": f'sum by (service) (rate(http_requests_total{{{NOT_SCRAPES},status=~"5.."}}[1m]))',
    "p95": "histogram_quantile(0.95, sum by (service, le) "
    f"(rate(http_request_duration_seconds_bucket{{{NOT_SCRAPES}}}[1m])))",
    "lag": "sum by (service, topic) (kafka_consumer_lag)",
    "last_cycle": "max(collector_last_success_timestamp_seconds)",
}
HOURLY = {  # counters shown as "in the last hour", and the labels they are shown by
    "alerts": ("alerts_emitted_total", ("kind",)),
    "deliveries": ("notifications_total", ("kind", "status")),
    "sla_breaches": ("sla_breaches_total", ("metric", "breach_type")),
}


# -- the frame's data -----------------------------------------------------------------------------
def last_hour(prometheus: Prometheus, metric: str, labels: tuple[str, ...]) -> list[dict[str, Any]]:
    by = ", ".join(labels)
    now = prometheus.by(f"sum by ({by}) ({metric})", *labels)
    before = prometheus.by(f"sum by ({by}) ({metric} offset 1h)", *labels)
    rows = []
    for key, value in sorted(now.items()):
        count = value - before.get(key, 0.0)
        rows.append({**dict(zip(labels, key, strict=True)), "count": int(value if count < 0 else count)})
    return [row for row in rows if row["count"]]


def _service_rows(status: dict[str, Any] | None, metrics: dict[str, dict[tuple[str, ...], float]]) -> list[Any]:
    from flightctl.platform.layout import SERVICES

    services = (status or {}).get("services") or {}
    rows = []
    for name in SERVICES:
        key = (name,)
        rate, error_rate = metrics.get("rate", {}).get(key), metrics.get("error_rate", {}).get(key, 0.0)
        p95 = metrics.get("p95", {}).get(key)
        requests = _int(metrics.get("requests", {}).get(key))
        rows.append(
            {
                "service": name,
                "healthy": services.get(name, {}).get("healthy") if status else None,
                "requests": requests,
                "errors_5xx": None if requests is None else _int(metrics.get("errors", {}).get(key, 0.0)),
                "requests_per_second": None if rate is None else round(rate, 3),
                "error_ratio": round(min(1.0, error_rate / rate), 4) if rate else None,
                "p95_ms": round(p95 * 1000, 1) if p95 is not None and p95 == p95 else None,  # NaN: no requests
            }
        )
    return rows


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def collect(obj: Context, prometheus: Prometheus | None, now: Callable[[], datetime]) -> dict[str, Any]:
    """One frame: every source read once; what failed is named in ``unreachable``."""
    from flightctl.clients.api import ApiError, Unreachable
    from flightctl.clients.prometheus import PrometheusError
    from flightctl.errors import FlightctlError

    unreachable: list[str] = []
    status: dict[str, Any] | None = None
    try:
        status = obj.platform().status()
    except FlightctlError as exc:
        unreachable.append(f"platform ({obj.context}): {exc.message}")
    metrics: dict[str, dict[tuple[str, ...], float]] = {}
    hourly: dict[str, list[dict[str, Any]]] = {}
    at = now()
    if prometheus is None:
        unreachable.append("prometheus: no URL for this context (give --prometheus URL)")
    else:
        try:
            for name, query in QUERIES.items():
                labels: tuple[str, ...] = ("service", "topic") if name == "lag" else ("service",)
                metrics[name] = prometheus.by(query, *labels)
            for name, (metric, labels) in HOURLY.items():
                hourly[name] = last_hour(prometheus, metric, labels)
        except PrometheusError as exc:
            unreachable.append(f"prometheus: {exc}")
            metrics, hourly = {}, {}
    collector: dict[str, Any] | None = None
    try:
        collector = obj.collector.collector_status()
    except (Unreachable, ApiError, FlightctlError) as exc:
        unreachable.append(f"data-collector: {getattr(exc, 'message', exc)}")
    last = metrics.get("last_cycle", {}).get(("",))
    return {
        "time": at.isoformat(timespec="seconds"),
        "context": obj.context,
        "prometheus": prometheus.url if prometheus else None,
        "unreachable": unreachable,
        "services": _service_rows(status, metrics),
        "infrastructure": (status or {}).get("infrastructure"),
        "collector": _collector(collector, last, at),
        "kafka_lag": [
            {"service": s, "topic": t, "lag": int(v)} for (s, t), v in sorted(metrics.get("lag", {}).items())
        ],
        "last_hour": hourly,
    }


def _collector(status: dict[str, Any] | None, last_success: float | None, at: datetime) -> dict[str, Any]:
    from flightctl.cli.collector import credit_lines

    upcoming = []
    for airport in (status or {}).get("airports") or []:
        nxt = airport.get("next_fetch")
        if nxt:
            upcoming.append({"airport": airport.get("airport"), "at": nxt.get("at"), "why": nxt.get("why")})
    upcoming.sort(key=lambda item: str(item["at"]))
    when = datetime.fromtimestamp(last_success, UTC) if last_success else None
    return {
        "last_success": when.isoformat(timespec="seconds") if when else None,
        "seconds_since_last_success": round((at - when).total_seconds()) if when else None,
        "credits": credit_lines(status) if status else [],
        "next_fetches": upcoming[:5],
    }


# -- rendering ----------------------------------------------------------------------------------
def _yes_no(value: bool | None) -> str:
    return {True: "[green]healthy[/]", False: "[bold red]unhealthy[/]"}.get(value, "[dim]?[/]")  # type: ignore[arg-type]


def _num(value: Any, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def render(frame: dict[str, Any], interval: float | None = None) -> RenderableType:
    """The frame as Rich renderables (colour is dropped by a console that has none)."""
    from rich.columns import Columns
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = f"flightctl top · {frame['context']} · {frame['time']}"
    if interval is not None:
        title += f" · every {interval:g}s · q quits"
    parts: list[Any] = [Text(title, style="bold")]
    for line in frame["unreachable"]:
        parts.append(Text(f"unreachable: {line}", style="bold red"))
    services = Table(title="services", title_justify="left", expand=False)
    for column in ("service", "health", "req/s", "5xx ratio", "p95 ms", "requests", "5xx"):
        services.add_column(column, justify="left" if column in ("service", "health") else "right")
    for row in frame["services"]:
        ratio = row["error_ratio"]
        ratio_text = "-" if ratio is None else (f"[red]{ratio:.2%}[/]" if ratio > 0 else f"{ratio:.2%}")
        services.add_row(
            row["service"],
            _yes_no(row["healthy"]),
            _num(row["requests_per_second"], "{:.2f}"),
            ratio_text,
            _num(row["p95_ms"], "{:.1f}"),
            _num(row["requests"]),
            _num(row["errors_5xx"]),
        )
    parts.append(services)
    collector = frame["collector"]
    since = collector["seconds_since_last_success"]
    lines = [f"last successful cycle: {collector['last_success'] or '-'}" + (f" ({since}s ago)" if since else "")]
    lines += [f"credits {line}" for line in collector["credits"]]
    for fetch in collector["next_fetches"]:
        lines.append(f"next fetch {str(fetch['at'])[:16].replace('T', ' ')} {fetch['airport']} ({fetch['why']})")
    parts.append(Text("collector", style="bold"))
    parts.append(Text("\n".join(lines)))
    lag = Table(title="kafka consumer lag", title_justify="left")
    for column in ("service", "topic", "lag"):
        lag.add_column(column, justify="right" if column == "lag" else "left")
    for row in frame["kafka_lag"]:
        lag.add_row(row["service"], row["topic"], f"[yellow]{row['lag']}[/]" if row["lag"] else "0")
    hour = Table(title="last hour", title_justify="left")
    for column in ("what", "by", "count"):
        hour.add_column(column, justify="right" if column == "count" else "left")
    colours = {"high": "red", "low": "yellow", "resolved": "green", "failed": "red", "sent": "green"}
    for name, rows in frame["last_hour"].items():
        for row in rows:
            labels = [str(v) for k, v in row.items() if k != "count"]
            styled = " ".join(f"[{colours[v]}]{v}[/]" if v in colours else v for v in labels)
            count = f"[bold red]{row['count']}[/]" if name == "sla_breaches" else str(row["count"])
            hour.add_row(name.replace("_", " "), styled, count)
        if not rows:
            hour.add_row(name.replace("_", " "), "[dim]none[/]", "0")
    parts.append(Columns([lag, hour], padding=(0, 4)))
    return Group(*parts)


# -- keys -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def keys() -> Iterator[Callable[[float], str | None]]:
    """Reads single keys from a terminal's stdin without blocking past a timeout (cbreak mode,
    restored on exit); without a terminal, only waits."""
    stdin = sys.stdin
    if not (hasattr(stdin, "fileno") and stdin.isatty()):
        never = threading.Event()

        def wait(timeout: float) -> str | None:
            never.wait(timeout)  # the refresh interval: nothing can be read without a terminal
            return None

        yield wait
        return
    import termios
    import tty

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read(timeout: float) -> str | None:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 1).decode(errors="replace") if ready else None

    try:
        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# -- the command -------------------------------------------------------------------------------------
def prometheus_url(obj: Context, given: str | None) -> str | None:
    """--prometheus, else the platform's (local), else a port-forward of the cluster's."""
    from flightctl.errors import FlightctlError
    from flightctl.platform.interface import LOCAL

    if given:
        return given
    try:
        found = obj.platform().status().get("prometheus")
    except FlightctlError:
        found = None
    if found or obj.context == LOCAL:
        return str(found) if found else None
    from flightctl.kind import portforward

    try:
        forward = portforward.start(obj.home, obj.kind_runner(), "prometheus", target=obj.target())
    except FlightctlError as exc:
        obj.progress(f"no port-forward to Prometheus: {exc.message}")
        return None
    obj.progress(f"Prometheus forwarded to {forward.url} (`flightctl port-forward stop prometheus` ends it)")
    return forward.url


@cli.command()
def top(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option("--interval", help="seconds between refreshes", min=1.0)] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="print one frame and exit (-o json: its data)")] = False,
    prometheus: Annotated[
        str | None,
        typer.Option("--prometheus", envvar=FLIGHTCTL_PROMETHEUS_URL, help="Prometheus URL (default: the context's)"),
    ] = None,
) -> None:
    """A live view of the platform: each service's health, request rate, 5xx ratio and p95
    latency; the collector's last cycle, credits and next fetches; Kafka consumer lag; alerts,
    deliveries and SLA breaches in the last hour. Refreshed every --interval seconds; q quits.

    A source that does not answer is one line naming it. --once prints one frame (-o json: the
    frame's data) and exits; the live view needs a terminal."""
    from flightctl.clients.prometheus import Prometheus

    obj: Context = ctx.obj
    url = prometheus_url(obj, prometheus)
    client = Prometheus(url) if url else None
    try:
        if once or obj.output != "table":
            frame = collect(obj, client, lambda: datetime.now(UTC))
            if obj.output != "table":
                emit(frame, obj.output)
            else:
                console(fancy()).print(render(frame))
            return
        if not fancy():
            raise UsageError("the live view needs a terminal: use --once (or -o json) in scripts")
        live(obj, client, interval)
    finally:
        if client is not None:
            client.close()


def console(colour: bool) -> Console:
    from rich.console import Console

    if colour:
        return Console()
    return Console(no_color=True, highlight=False, force_terminal=False, width=120, soft_wrap=False)


def live(obj: Context, client: Prometheus | None, interval: float) -> None:
    from rich.live import Live

    def frame() -> RenderableType:
        return render(collect(obj, client, lambda: datetime.now(UTC)), interval)

    with keys() as read_key, Live(frame(), console=console(True), screen=True, auto_refresh=False) as view:
        while True:
            key = read_key(interval)
            if key is not None and key.lower() == "q":
                return
            view.update(frame(), refresh=True)
