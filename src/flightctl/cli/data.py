"""API commands: users, interests, flights, collect. Thin: parse, call the client, print."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit

KeyOption = Annotated[str | None, typer.Option("--idempotency-key", help="reuse a key to make a retry safe")]


def _key(value: str | None) -> dict[str, str]:
    return {"Idempotency-Key": value or str(uuid.uuid4())}


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Users and their Telegram chats.", no_args_is_help=True)
    interests = typer.Typer(help="Airports a user watches, with thresholds.", no_args_is_help=True)
    flights = typer.Typer(help="Stored flights.", no_args_is_help=True)

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
        body: dict[str, Any] = {"email": email, "first_name": first_name, "last_name": last_name}
        body.update({k: v for k, v in {"tax_code": tax_code, "iban": iban}.items() if v})
        obj: Context = ctx.obj
        _, result = obj.client("user-manager").request("POST", "/users", json=body, headers=_key(idempotency_key))
        emit(result, obj.output)

    @users.command("list")
    def users_list(ctx: typer.Context) -> None:
        """List users (tax code and IBAN masked)."""
        emit(
            ctx.obj.client("user-manager").get("/users"),
            ctx.obj.output,
            ["email", "first_name", "last_name", "telegram_chat_id"] if ctx.obj.output == "table" else None,
        )

    @users.command("get")
    def users_get(ctx: typer.Context, email: str) -> None:
        """Show one user."""
        emit(ctx.obj.client("user-manager").get(f"/users/{email}"), ctx.obj.output)

    @users.command("delete")
    def users_delete(ctx: typer.Context, email: str, idempotency_key: KeyOption = None) -> None:
        """Delete a user and their interests."""
        obj: Context = ctx.obj
        _, result = obj.client("user-manager").request("DELETE", f"/users/{email}", headers=_key(idempotency_key))
        emit(result, obj.output)

    @users.command("telegram")
    def users_telegram(ctx: typer.Context, email: str, chat_id: Annotated[str, typer.Option("--chat-id")]) -> None:
        """Link a Telegram chat id to a user."""
        obj: Context = ctx.obj
        _, result = obj.client("user-manager").request(
            "POST", "/users/telegram", json={"email": email, "telegram_chat_id": chat_id}, headers=_key(None)
        )
        emit(result, obj.output)

    @interests.command("add")
    def interests_add(
        ctx: typer.Context,
        email: str,
        airport: str,
        high: Annotated[int | None, typer.Option("--high", min=0)] = None,
        low: Annotated[int | None, typer.Option("--low", min=0)] = None,
    ) -> None:
        """Watch an airport."""
        obj: Context = ctx.obj
        body = {"email": email, "airport_code": airport, "high_value": high, "low_value": low}
        _, result = obj.client("data-collector").request("POST", "/interests", json=body, headers=_key(None))
        emit(result, obj.output)

    @interests.command("update")
    def interests_update(
        ctx: typer.Context,
        email: str,
        airport: str,
        high: Annotated[int | None, typer.Option("--high", min=0)] = None,
        low: Annotated[int | None, typer.Option("--low", min=0)] = None,
    ) -> None:
        """Change an interest's thresholds."""
        obj: Context = ctx.obj
        body: dict[str, Any] = {"email": email, "airport_code": airport}
        body.update({k: v for k, v in {"high_value": high, "low_value": low}.items() if v is not None})
        _, result = obj.client("data-collector").request("PUT", "/interests", json=body, headers=_key(None))
        emit(result, obj.output)

    @interests.command("remove")
    def interests_remove(ctx: typer.Context, email: str, airport: str) -> None:
        """Stop watching an airport."""
        obj: Context = ctx.obj
        body = {"email": email, "airport_code": airport}
        _, result = obj.client("data-collector").request("DELETE", "/interests", json=body, headers=_key(None))
        emit(result, obj.output)

    @interests.command("list")
    def interests_list(ctx: typer.Context, email: str) -> None:
        """A user's interests."""
        result = ctx.obj.client("data-collector").get(f"/interests/{email}")
        emit(result["interests"] if ctx.obj.output == "table" else result, ctx.obj.output)

    @flights.command("list")
    def flights_list(
        ctx: typer.Context,
        airport: str,
        kind: Annotated[str | None, typer.Option("--type", help="arrivals or departures")] = None,
        limit: int = 20,
        offset: int = 0,
    ) -> None:
        """Stored flights of an airport, newest first."""
        result = ctx.obj.client("data-collector").get(f"/flights/{airport}", type=kind, limit=limit, offset=offset)
        columns = [
            "icao24",
            "callsign",
            "est_departure_airport",
            "est_arrival_airport",
            "first_seen",
            "last_seen",
            "source",
        ]
        emit(result, ctx.obj.output, columns if ctx.obj.output == "table" else None)

    @flights.command("average")
    def flights_average(ctx: typer.Context, airport: str, days: int = 7) -> None:
        """Average flights per day over the last N days."""
        emit(ctx.obj.client("data-collector").get(f"/flights/average/{airport}", days=days), ctx.obj.output)

    @flights.command("last")
    def flights_last(ctx: typer.Context, airport: str) -> None:
        """The latest flight seen at an airport."""
        emit(ctx.obj.client("data-collector").get(f"/flights/last/{airport}"), ctx.obj.output)

    @app.command()
    def collect(ctx: typer.Context) -> None:
        """Run one collection cycle now and show its summary."""
        obj: Context = ctx.obj
        _, result = obj.client("data-collector").request("POST", "/collect", headers=_key(None))
        if obj.output == "table":
            emit(
                result["airports"],
                "table",
                ["airport", "source", "flights_stored", "flight_count", "messages", "error"],
            )
        else:
            emit(result, obj.output)

    app.add_typer(users, name="users")
    app.add_typer(interests, name="interests")
    app.add_typer(flights, name="flights")
