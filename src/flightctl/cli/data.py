"""API commands: users, interests, flights, collect, notifications. Thin: parse, call the typed
client, print."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit, fancy, terminal_size
from flightctl.errors import FlightctlError, UsageError

if TYPE_CHECKING:
    from flightctl.clients.data_collector import DataCollector

KeyOption = Annotated[
    str | None, typer.Option("--idempotency-key", help="reuse a key to make a retry safe (default: a new UUID)")
]
HighOption = Annotated[int | None, typer.Option("--high", min=0, help="alert when the count exceeds this")]
LowOption = Annotated[int | None, typer.Option("--low", min=0, help="alert when the count is below this")]
LiveOption = Annotated[
    bool,
    typer.Option(
        "--live",
        help="thresholds on the live traffic (aircraft near the airport now, checked every minute) instead of "
        "the flights of the latest complete day",
    ),
]
WhichOption = Annotated[
    bool,
    typer.Option("--live", help="the user's live-traffic interest in the airport (default: the daily one)"),
]
USER_COLUMNS = ["email", "first_name", "last_name", "telegram_chat_id"]
FLIGHT_COLUMNS = ["icao24", "callsign", "est_departure_airport", "est_arrival_airport", "first_seen", "last_seen"]
NOTIFICATION_COLUMNS = ["created_at", "kind", "status", "user_email", "chat_id", "attempts", "text"]
INTEREST_COLUMNS = ["airport_code", "kind", "high_value", "low_value"]
COLLECT_COLUMNS = ["airport", "source", "flights_stored", "day", "flight_count", "live_count", "messages", "error"]

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
users = typer.Typer(name="users", help="Users and their Telegram chats.", no_args_is_help=True)
interests = typer.Typer(
    name="interests",
    help="Airports a user watches, with thresholds on daily flights, on live traffic (--live), or both.",
    no_args_is_help=True,
)
flights = typer.Typer(name="flights", help="Stored flights.", no_args_is_help=True)
notifications = typer.Typer(name="notifications", help="The alert-notifier's delivery log.", no_args_is_help=True)


def telegram_link(obj: Context, email: str, key: str | None) -> dict[str, Any]:
    """A one-time code from user-manager, and the bot's deep link from alert-notifier when it has a bot."""
    from flightctl.clients.api import ApiError, Unreachable

    issued = obj.users.telegram_link_code(email, key=key)
    code = str(issued["code"])
    result: dict[str, Any] = {"email": issued.get("email", email), "code": code, "expires_at": issued.get("expires_at")}
    notifier = obj.notifier
    try:
        status, bot = notifier.telegram_bot()
    except Unreachable as exc:
        status, bot, why = 0, None, exc.message
    else:
        error = bot.get("error") if isinstance(bot, dict) else None
        why = f"{notifier.service} answered HTTP {status}" + (f": {error}" if error else "")
    if status == 200 and isinstance(bot, dict) and bot.get("username"):
        base = str(bot.get("link_base") or f"https://t.me/{bot['username']}").rstrip("/")
        result.update(bot=bot["username"], link=f"{base}?start={code}")
    elif status in (401, 403):
        raise ApiError(notifier.service, status, str(bot.get("error") if isinstance(bot, dict) else bot))
    else:  # 503: no bot configured; unreachable or older notifier: the code still works
        result.update(bot=None, link=None, hint=f"send `/start {code}` to the platform's Telegram bot ({why})")
    return result


def _show_link(result: dict[str, Any], fmt: str) -> None:
    if fmt != "table":
        emit(result, fmt)
        return
    if result.get("link"):
        typer.echo(f"Open {result['link']} in Telegram and press Start (expires {result['expires_at']}).")
    else:
        typer.echo(f"Code {result['code']} (expires {result['expires_at']}): {result['hint']}.")


@users.command("create")
def users_create(
    ctx: typer.Context,
    email: str,
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    tax_code: Annotated[str | None, typer.Option("--tax-code")] = None,
    iban: Annotated[str | None, typer.Option("--iban")] = None,
    idempotency_key: KeyOption = None,
) -> None:
    """Create a user."""
    created = ctx.obj.users.create(email, first_name, last_name, tax_code=tax_code, iban=iban, key=idempotency_key)
    emit(created, ctx.obj.output)


@users.command("list")
def users_list(ctx: typer.Context) -> None:
    """List users (tax code and IBAN masked)."""
    fmt = ctx.obj.output
    emit(ctx.obj.users.list(), fmt, USER_COLUMNS if fmt == "table" else None)


@users.command("get")
def users_get(ctx: typer.Context, email: str) -> None:
    """Show one user."""
    emit(ctx.obj.users.get(email), ctx.obj.output)


@users.command("delete")
def users_delete(ctx: typer.Context, email: str, idempotency_key: KeyOption = None) -> None:
    """Delete a user and their interests."""
    emit(ctx.obj.users.delete(email, key=idempotency_key), ctx.obj.output)


@users.command("telegram")
def users_telegram(
    ctx: typer.Context,
    email: str,
    chat_id: Annotated[
        str | None, typer.Argument(help="the Telegram chat id (a group's negative id after --: `EMAIL -- -100123`)")
    ] = None,
    link: Annotated[
        bool, typer.Option("--link", help="instead of a chat id: get a code and the bot's deep link")
    ] = False,
    idempotency_key: KeyOption = None,
) -> None:
    """Set a user's Telegram chat id, or (--link) let the user link the chat from Telegram."""
    obj: Context = ctx.obj
    if link == (chat_id is not None):
        raise UsageError("give either CHAT_ID or --link")
    if chat_id is None:
        _show_link(telegram_link(obj, email, idempotency_key), obj.output)
        return
    emit(obj.users.set_telegram_chat(email, chat_id, key=idempotency_key), obj.output)


@interests.command("add")
def interests_add(
    ctx: typer.Context,
    email: str,
    airport: str,
    high: HighOption = None,
    low: LowOption = None,
    live: LiveOption = False,
    idempotency_key: KeyOption = None,
) -> None:
    """Watch an airport: its flights of each complete day, or (--live) the aircraft near it now.

    A user can have both kinds on one airport, a daily and a live interest, each alerting on its own."""
    added = ctx.obj.collector.add_interest(email, airport, high=high, low=low, live=live, key=idempotency_key)
    emit(added, ctx.obj.output)


@interests.command("update")
def interests_update(
    ctx: typer.Context,
    email: str,
    airport: str,
    high: HighOption = None,
    low: LowOption = None,
    clear_high: Annotated[bool, typer.Option("--clear-high", help="remove the high threshold")] = False,
    clear_low: Annotated[bool, typer.Option("--clear-low", help="remove the low threshold")] = False,
    live: WhichOption = False,
    idempotency_key: KeyOption = None,
) -> None:
    """Change the thresholds of the daily interest, or (--live) the live one (those given; the others stay)."""
    from flightctl.clients.data_collector import UNCHANGED

    if (high is not None and clear_high) or (low is not None and clear_low):
        raise UsageError("a threshold cannot be both set and cleared")
    if high is None and low is None and not clear_high and not clear_low:
        raise UsageError("nothing to change: give --high, --low, --clear-high or --clear-low")
    changed = ctx.obj.collector.update_interest(
        email,
        airport,
        high=high if high is not None or clear_high else UNCHANGED,
        low=low if low is not None or clear_low else UNCHANGED,
        live=live,
        key=idempotency_key,
    )
    emit(changed, ctx.obj.output)


@interests.command("remove")
def interests_remove(
    ctx: typer.Context, email: str, airport: str, live: WhichOption = False, idempotency_key: KeyOption = None
) -> None:
    """Stop watching an airport: the daily interest, or (--live) the live one; the other kind stays."""
    emit(ctx.obj.collector.remove_interest(email, airport, live=live, key=idempotency_key), ctx.obj.output)


@interests.command("list")
def interests_list(ctx: typer.Context, email: str) -> None:
    """A user's interests, both kinds (daily: the flights of a complete day; live: the aircraft near it now)."""
    result = ctx.obj.collector.interests(email)
    if ctx.obj.output != "table":
        emit(result, ctx.obj.output)
        return
    rows = [{**i, "kind": "live" if i.get("live") else "daily"} for i in result["interests"]]
    emit(rows, "table", INTEREST_COLUMNS)


@flights.command("list")
def flights_list(
    ctx: typer.Context,
    airport: str,
    kind: Annotated[str | None, typer.Option("--type", help="arrivals or departures")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Stored flights of an airport, newest first."""
    result = ctx.obj.collector.flights(airport, kind=kind, limit=limit, offset=offset)
    emit(result, ctx.obj.output, [*FLIGHT_COLUMNS, "source"] if ctx.obj.output == "table" else None)


@flights.command("average")
def flights_average(ctx: typer.Context, airport: str, days: Annotated[int, typer.Option(min=1)] = 7) -> None:
    """Average flights per day over the last N days."""
    emit(ctx.obj.collector.average(airport, days), ctx.obj.output)


@flights.command("stats")
def flights_stats(
    ctx: typer.Context,
    airport: str,
    days: Annotated[int, typer.Option(min=1, max=365, help="the last N UTC days, today so far included")] = 7,
    kind: Annotated[
        str | None, typer.Option("--type", help="arrival or departure (default: both, each flight once)")
    ] = None,
    hourly: Annotated[bool, typer.Option("--hourly", help="per hour instead of per day (at most 31 days)")] = False,
    email: Annotated[
        str | None, typer.Option("--email", help="draw this user's thresholds on the airport (daily interest)")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="also write the chart to FILE as PNG")] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="also write the chart to FILE as SVG")] = None,
) -> None:
    """Flights per UTC day (or hour) at an airport, counted by the data-collector in one query.

    In a terminal: a chart, with the --email user's high and low thresholds as lines; piped or
    with NO_COLOR: a table; -o json|yaml: the numbers (and the thresholds). --png/--svg need
    matplotlib (`pip install 'flightctl-platform[charts]'`; exit 5 without it)."""
    from flightctl.cli import charts

    obj: Context = ctx.obj
    direction = STATS_TYPES.get(kind) if kind is not None else None
    if kind is not None and direction is None:
        raise UsageError("--type must be arrival or departure")
    image = charts.image_format(png, svg)
    stats = obj.collector.stats(airport, days=days, kind=direction, hourly=hourly)
    thresholds = _thresholds(obj, email, str(stats.get("airport", airport)).upper()) if email else None
    series = charts.Series.of(stats, [] if hourly else (thresholds or {}).get("lines", []), email)
    if hourly and thresholds and thresholds["lines"]:
        obj.progress("the thresholds are on daily counts: not drawn on the hourly chart")
    if image is not None:
        charts.write_image(series, *image)
        obj.progress(f"wrote {image[0]} ({image[1].upper()})")
    if obj.output != "table":
        emit({**stats, "thresholds": thresholds["values"]} if thresholds else stats, obj.output)
    elif fancy():
        width, height = terminal_size()
        typer.echo(charts.terminal(series, width, max(12, min(30, height - 4))))
        typer.echo(f"total {stats.get('total')} flight(s) from {stats.get('start')} to {stats.get('end')}")
    else:
        emit([{"start": b["start"], "flights": b["flights"]} for b in stats.get("buckets") or []], "table")


STATS_TYPES = {"arrival": "arrivals", "arrivals": "arrivals", "departure": "departures", "departures": "departures"}


def _thresholds(obj: Context, email: str, airport: str) -> dict[str, Any]:
    """The user's daily interest in the airport: its thresholds as values and as chart lines."""
    from flightctl.cli.charts import Threshold

    found = obj.collector.interests(email)
    daily = [
        i
        for i in (found.get("interests") or [] if isinstance(found, dict) else [])
        if str(i.get("airport_code", "")).upper() == airport and not i.get("live")
    ]
    if not daily:
        raise FlightctlError(f"{email} has no daily interest in {airport} (flightctl interests list {email})")
    high, low = daily[0].get("high_value"), daily[0].get("low_value")
    lines = [Threshold(name, value) for name, value in (("high", high), ("low", low)) if value is not None]
    return {"values": {"email": email, "high_value": high, "low_value": low}, "lines": lines}


@flights.command("last")
def flights_last(ctx: typer.Context, airport: str) -> None:
    """The latest flight seen at an airport."""
    emit(ctx.obj.collector.last(airport), ctx.obj.output)


@cli.command()
def collect(ctx: typer.Context, idempotency_key: KeyOption = None) -> None:
    """Run one collection cycle now, within the OpenSky credit budget, and show its summary.

    Fetches every watched airport's latest complete day that is not stored yet (never past the
    day's credits less the reserve), counts the live traffic, and publishes every interest's
    reading. `flightctl collector status` shows the plan and the credits."""
    obj: Context = ctx.obj
    message = "collecting: each watched airport's latest complete day, if not stored yet; live traffic"
    if fancy(obj.output, sys.stderr):
        result = _collect_followed(obj, message, idempotency_key)
    else:  # the plain output scripts read: one line, one request
        obj.progress(message)
        result = obj.collector.collect(key=idempotency_key)
    if obj.output == "table" and isinstance(result, dict):
        emit(result.get("airports") or [], "table", COLLECT_COLUMNS)
    else:
        emit(result, obj.output)


POLL_SECONDS = 0.5
"""How often `collect` asks the data-collector for its cycle's progress on a terminal."""


def _collect_followed(obj: Context, message: str, key: str | None) -> Any:
    """``POST /collect`` in a worker thread while ``GET /collector/status`` is polled for the
    cycle's progress (a bar, a line per airport). A poll that fails is skipped: the POST's
    answer (or its error) is the command's."""
    from flightctl.cli.output import cycle_steps

    api = obj.collector
    api.http  # the client made once, here: both threads use it  # noqa: B018
    view = cycle_steps(message)
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def post() -> None:
        try:
            outcome["result"] = api.collect(key=key)
        except BaseException as exc:  # re-raised in the command's thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=post, name="collect", daemon=True).start()
    while not finished.wait(POLL_SECONDS):
        view.follow(_cycle(api))
    if "error" in outcome:
        raise outcome["error"]
    if view.started_at is not None:  # the airports that finished since the last poll
        view.follow(_cycle(api))
    return outcome["result"]


def _cycle(api: DataCollector) -> Any:
    """The data-collector's ``cycle`` (None when it cannot tell: never an error)."""
    try:
        status = api.collector_status()
    except Exception:
        return None
    return status.get("cycle") if isinstance(status, dict) else None


@notifications.command("list")
def notifications_list(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option("--email", help="only this user's deliveries")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Deliveries (alerts and SLA breaches sent to Telegram), newest first."""
    result = ctx.obj.notifier.notifications(email=email, limit=limit)
    if ctx.obj.output == "table" and isinstance(result, list):
        rows = [{**r, "text": _short(r.get("text"))} for r in result if isinstance(r, dict)]
        emit(rows, "table", NOTIFICATION_COLUMNS)
    else:
        emit(result, ctx.obj.output)


def _short(text: Any, width: int = 60) -> Any:
    if not isinstance(text, str):
        return text
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


cli.add_typer(users)
cli.add_typer(interests)
cli.add_typer(flights)
cli.add_typer(notifications)
