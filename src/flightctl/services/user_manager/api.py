"""user-manager's HTTP routes: translate requests, call service functions, shape responses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common import auth, emails
from flightctl.services.common.db import Reads, transaction
from flightctl.services.common.errors import InvalidInput
from flightctl.services.common.http import json_body
from flightctl.services.user_manager import idempotency, linking, service, tokens
from flightctl.services.user_manager.metrics import UserMetrics
from flightctl.services.user_manager.settings import LINK_TTL_SECONDS


def blueprint(
    factory: sessionmaker[Session],
    *,
    ttl: timedelta,
    now: Callable[[], datetime],
    metrics: UserMetrics,
    on_delete: Callable[[], None],
    reads: Reads,
    link_ttl: timedelta = timedelta(seconds=LINK_TTL_SECONDS),
    on_revoke: Callable[[], None] = lambda: None,
) -> Blueprint:
    """``reads`` serves the one-user read (a prepared statement on an autocommit connection);
    ``on_revoke`` runs after a token is revoked (user-manager drops its cached answers)."""
    bp = Blueprint("users", __name__)

    def idempotent(body: Any, action: Callable[[Session], tuple[int, dict[str, Any]]]) -> tuple[Response, int]:
        key = idempotency.check_key(request.headers.get("Idempotency-Key"))
        try:
            outcome = idempotency.execute(
                factory,
                key=key,
                method=request.method,
                path=request.path,
                body=body,
                ttl=ttl,
                now=now,
                action=action,
            )
        except idempotency.Conflict:
            metrics.idempotency.labels("in_progress").inc()
            raise
        except idempotency.Unprocessable:
            metrics.idempotency.labels("mismatch").inc()
            raise
        metrics.idempotency.labels("replayed" if outcome.replayed else "executed").inc()
        response = jsonify(outcome.body)
        if outcome.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response, outcome.status

    @bp.post("/users")
    def create_user() -> tuple[Response, int]:
        payload = json_body()
        return idempotent(payload, lambda s: service.create_user(s, payload))

    @bp.delete("/users/<path:email>")
    @auth.requires(auth.ADMIN)
    def delete_user(email: str) -> tuple[Response, int]:
        if len(email) > emails.MAX_LENGTH:  # no such user can exist; refused before a key is stored
            raise InvalidInput(f"the email is longer than {emails.MAX_LENGTH} characters")
        result = idempotent(None, lambda s: service.delete_user(s, email, now()))
        if result[1] == 200:
            on_delete()
        return result

    @bp.get("/users")
    def list_users() -> Response:
        with transaction(factory) as session:
            return jsonify(service.list_users(session))

    @bp.get("/users/<path:email>")
    def get_user(email: str) -> Response:
        return jsonify(service.find_user(reads, email))

    @bp.post("/users/telegram")
    def link_telegram() -> Response:
        payload = json_body()
        with transaction(factory) as session:
            return jsonify(service.link_telegram(session, payload))

    @bp.post("/users/telegram/link")
    def telegram_link_code() -> tuple[Response, int]:
        """A one-time code for the deep link t.me/<bot>?start=<code> (no idempotency key: a
        repeat only replaces the code)."""
        payload = json_body()
        with transaction(factory) as session:
            body = linking.create_link_code(session, payload, now=now(), ttl=link_ttl)
        return jsonify(body), 201

    # -- API tokens (admin): no Idempotency-Key, so no stored answer ever holds a token --------
    @bp.post("/tokens")
    @auth.requires(auth.ADMIN)
    def create_token() -> tuple[Response, int]:
        payload = json_body()
        with transaction(factory) as session:
            return jsonify(tokens.create_token(session, payload, now())), 201

    @bp.get("/tokens")
    @auth.requires(auth.ADMIN)
    def list_tokens() -> Response:
        with transaction(factory) as session:
            return jsonify(tokens.list_tokens(session))

    @bp.delete("/tokens/<int:token_id>")
    @auth.requires(auth.ADMIN)
    def revoke_token(token_id: int) -> Response:
        with transaction(factory) as session:
            body = tokens.revoke_token(session, token_id, now())
        on_revoke()
        return jsonify(body)

    return bp
