"""`flightctl collector`: the data-collector's plan and OpenSky credits."""

from __future__ import annotations

from typing import Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit, table

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
collector = typer.Typer(name="collector", help="The data-collector's plan and OpenSky credits.", no_args_is_help=True)
AIRPORT_COLUMNS = ["airport", "daily", "live", "last_fetch", "source", "rows", "days", "reading", "next_fetch", "now"]


def _time(value: Any) -> str | None:
    """An ISO timestamp as `MM-DD HH:MM` (UTC)."""
    if not isinstance(value, str) or len(value) < 16:
        return None
    return f"{value[5:10]} {value[11:16]}"


def airport_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for a in status.get("airports") or []:
        fetched, upcoming, reading, live = a.get("last_fetch"), a.get("next_fetch"), a.get("reading"), a.get("live")
        interests = a.get("interests") or {}
        now = f"{live['aircraft']} aircraft ({live['source']})" if live and live.get("aircraft") is not None else None
        rows.append(
            {
                "airport": a.get("airport"),
                "daily": interests.get("daily"),
                "live": interests.get("live"),
                "last_fetch": _time(fetched.get("at")) if fetched else None,
                "source": fetched.get("source") if fetched else None,
                "rows": fetched.get("rows") if fetched else None,
                "days": f"{a.get('days_stored')}/{a.get('days_stored', 0) + a.get('days_missing', 0)}",
                "reading": f"{reading['flight_count']} on {reading['day']}" if reading else None,
                "next_fetch": f"{_time(upcoming.get('at'))} {upcoming.get('why')}" if upcoming else None,
                "now": now,
            }
        )
    return rows


def credit_lines(status: dict[str, Any]) -> list[str]:
    lines = []
    for family, info in (status.get("credits") or {}).items():
        if not info:
            continue
        line = (
            f"{family:<8} used {info.get('used_today')} of {info.get('per_day')} today, "
            f"{info.get('remaining')} left (reserve {info.get('reserve')}), "
            f"plan: {info.get('planned_today')} more, {info.get('projected_remaining')} left at midnight"
        )
        if family == "flights":
            line += f"; {info.get('planned_calls')} call(s) planned, {info.get('deferred_calls')} deferred"
        elif info.get("interval_seconds"):
            line += f"; a round of {info.get('groups')} call(s) every {info['interval_seconds']:.0f}s"
        if info.get("blocked_until"):
            line += f"; OpenSky said wait until {info['blocked_until']}"
        lines.append(line)
    return lines


def summary(status: dict[str, Any]) -> str:
    """The status as text: the credits, then one line per watched airport."""
    resets = _time(status.get("budget_resets_at"))
    head = [
        f"latest complete day {status.get('latest_complete_day')}; credits reset {resets} UTC",
        *credit_lines(status),
        "",
    ]
    return "\n".join(head) + table(airport_rows(status), AIRPORT_COLUMNS)


@collector.command("status")
def collector_status(ctx: typer.Context) -> None:
    """Per watched airport: the last successful fetch, its source and rows, the days stored, the
    next planned fetch and the live count; the OpenSky credits used today, remaining, and the
    plan's projection (-o json: everything)."""
    obj: Context = ctx.obj
    status = obj.collector.collector_status()
    if obj.output == "table" and isinstance(status, dict):
        typer.echo(summary(status))
    else:
        emit(status, obj.output)


cli.add_typer(collector)
