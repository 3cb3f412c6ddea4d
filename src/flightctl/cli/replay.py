"""`flightctl replay list|run`: the journal of mutating requests, and re-sending one of them
with its original Idempotency-Key (the server then replays the stored outcome instead of
running the request again, where it supports keys). Tax codes, IBANs and Telegram chat ids are
shown masked; a request that carried one can be re-sent within the idempotency TTL only
(flightctl.journal)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError

LIST_COLUMNS = ["time", "key", "service", "method", "path", "attempts", "status", "replayed", "error"]

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
replay = typer.Typer(
    name="replay",
    help="Journaled mutating requests; re-send one with its key. The journal: $FLIGHTCTL_HOME/journal.jsonl.",
    no_args_is_help=True,
)


@replay.command("list")
def replay_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="the newest N requests")] = 20,
    service: Annotated[str | None, typer.Option("--service", help="only this service's requests")] = None,
) -> None:
    """Journaled requests, newest last, each with its latest outcome."""
    obj: Context = ctx.obj
    entries = [e for e in obj.journal().entries() if service is None or e.service == service]
    rows = [e.summary() for e in entries[-limit:]]
    emit(rows, obj.output, LIST_COLUMNS if obj.output == "table" else None)


@replay.command("run")
def replay_run(ctx: typer.Context, key: Annotated[str, typer.Argument(help="the Idempotency-Key to re-send")]) -> None:
    """Re-send a journaled request with its original Idempotency-Key and show what the server did."""
    from flightctl.clients.api import ApiError
    from flightctl.journal import mask_text, outcome_summary

    obj: Context = ctx.obj
    journal = obj.journal()
    entry = journal.find(key)
    if entry is None:
        raise FlightctlError(f"no journaled request with Idempotency-Key {key}; see `flightctl replay list`")
    body = journal.request_body(entry)
    original = next((o for o in entry.outcomes if o.get("status") is not None), None)
    obj.progress(f"re-sending {entry.method} {entry.service} {entry.path} with Idempotency-Key {key}")
    reply = obj.client(entry.service).send(
        entry.method, entry.path, json=body, key=key, replay=True, raise_for_status=False
    )
    result: dict[str, Any] = {
        "key": key,
        "service": entry.service,
        "request": f"{entry.method} {entry.path}",
        "status": reply.status,
        "replayed": reply.replayed,
        "original_status": original["status"] if original else None,
        "same_as_original": original is not None
        and original["status"] == reply.status
        and mask_text(original.get("body")) == outcome_summary(reply.body),
        "response": reply.body,
    }
    if reply.replayed is None:
        result["note"] = f"{entry.service} does not say whether it replayed; compare the status and body"
    emit(result, obj.output)
    if reply.status >= 400:
        message = reply.body.get("error") if isinstance(reply.body, dict) else None
        raise ApiError(entry.service, reply.status, str(message or "error"), " (replayed)" if reply.replayed else "")


cli.add_typer(replay)
