"""alert-notifier's HTTP routes: the delivery log and the bot's identity."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.alert_notifier.linking import BotProfile
from flightctl.services.alert_notifier.store import list_deliveries
from flightctl.services.common.db import transaction
from flightctl.services.common.emails import normalize_email
from flightctl.services.common.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def blueprint(factory: sessionmaker[Session], profile: BotProfile | None = None) -> Blueprint:
    bp = Blueprint("notifications", __name__)
    bot = profile if profile is not None else BotProfile(None)

    @bp.get("/telegram/bot")
    def telegram_bot() -> Response:
        """The bot's username and the base of its deep links (503 without a bot or Telegram)."""
        return jsonify(bot.describe())

    @bp.get("/notifications")
    def notifications() -> Response:
        limit = _limit()
        email = normalize_email(request.args.get("email") or "") or None
        with transaction(factory) as session:
            return jsonify(list_deliveries(session, email, limit))

    return bp
