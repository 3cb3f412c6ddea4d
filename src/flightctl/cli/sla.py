"""SLA commands: sla get|set|stats against sla-breach-detector. Thin: parse, call the typed
client, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.data import KeyOption
from flightctl.cli.output import emit
from flightctl.errors import UsageError

METRIC_COLUMNS = ["name", "min", "max", "type", "query"]
STATS_COLUMNS = ["metric", "low_breaches", "high_breaches", "last_value", "last_check", "no_data", "errors"]


def _number(value: float | None) -> int | float | None:
    """3.0 -> 3, so a value typed as a whole number is stored as one."""
    if value is None:
        return None
    return int(value) if value.is_integer() else value


def _read_file(path: str) -> dict[str, Any]:
    """A whole config from a YAML (or JSON) file; ``-`` reads standard input."""
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML or JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold an object with metrics and settings")
    return data


def merge_metric(
    config: dict[str, Any],
    name: str,
    query: str | None,
    low: int | float | None,
    high: int | float | None,
) -> dict[str, Any]:
    """``config`` with the metric ``name`` replaced (the fields given change, the others stay)
    or, when it is new, appended (then query, min and max are all needed)."""
    metrics = [dict(m) for m in config.get("metrics") or [] if isinstance(m, dict)]
    changes = {k: v for k, v in {"query": query, "min": low, "max": high}.items() if v is not None}
    for metric in metrics:
        if metric.get("name") == name:
            metric.update(changes)
            break
    else:
        missing = [
            flag for flag, key in (("--query", "query"), ("--min", "min"), ("--max", "max")) if key not in changes
        ]
        if missing:
            raise UsageError(f"metric {name!r} is new: {', '.join(missing)} needed to add it")
        metrics.append({"name": name, "type": "gauge", **changes})
    return {**config, "metrics": metrics}


def _show_config(config: Any, fmt: str) -> None:
    if fmt != "table" or not isinstance(config, dict):
        emit(config, fmt)
        return
    emit(config.get("metrics") or [], "table", METRIC_COLUMNS)
    settings = config.get("settings")
    if isinstance(settings, dict):
        typer.echo("")
        emit({f"settings.{k}": v for k, v in settings.items()}, "table")


cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
sla = typer.Typer(name="sla", help="SLA rules (PromQL thresholds) and breach statistics.", no_args_is_help=True)


@sla.command("get")
def sla_get(ctx: typer.Context) -> None:
    """Show the SLA config: metrics with their thresholds, and settings."""
    obj: Context = ctx.obj
    _show_config(obj.sla.config(), obj.output)


@sla.command("set")
def sla_set(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Option("-f", "--file", help="a whole config (YAML or JSON) to post; - reads stdin")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="the metric to add or change")] = None,
    query: Annotated[str | None, typer.Option("--query", help="its PromQL query")] = None,
    low: Annotated[float | None, typer.Option("--min", help="lowest acceptable value")] = None,
    high: Annotated[float | None, typer.Option("--max", help="highest acceptable value")] = None,
    t_check: Annotated[
        float | None, typer.Option("--t-check", help="seconds between checks (>= 5 x the scrape interval)")
    ] = None,
    idempotency_key: KeyOption = None,
) -> None:
    """Change the SLA config: one metric by flags (the rest is kept), or a whole file with -f."""
    obj: Context = ctx.obj
    flags_given = name is not None or query is not None or low is not None or high is not None
    if file is not None and (flags_given or t_check is not None):
        raise UsageError("give either -f FILE or --name/--query/--min/--max/--t-check, not both")
    if name is None and (query is not None or low is not None or high is not None):
        raise UsageError("--query, --min and --max change the metric named by --name")
    detector = obj.sla
    if file is not None:
        config = _read_file(file)
    elif name is not None or t_check is not None:
        config = detector.config()
        if name is not None:
            config = merge_metric(config, name, query, _number(low), _number(high))
        if t_check is not None:
            config = {**config, "settings": {**(config.get("settings") or {}), "t_check": _number(t_check)}}
    else:
        raise UsageError("nothing to set: give -f FILE, or --name with --query/--min/--max, or --t-check")
    # A mutating call like every other: Idempotency-Key, journal, retry on network failure.
    _show_config(detector.set_config(config, key=idempotency_key), obj.output)


@sla.command("stats")
def sla_stats(ctx: typer.Context) -> None:
    """Breaches per metric since the detector started, last value and no-data count."""
    obj: Context = ctx.obj
    stats = obj.sla.stats()
    if obj.output == "table" and isinstance(stats, dict):
        emit([{"metric": name, **entry} for name, entry in stats.items()], "table", STATS_COLUMNS)
    else:
        emit(stats, obj.output)


cli.add_typer(sla)


def register(app: typer.Typer) -> None:
    """Add the sla group to an app of one's own (a test's root with its own context object)."""
    app.add_typer(cli)
