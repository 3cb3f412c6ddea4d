"""alert-notifier: the delivery log, and the Telegram bot the platform runs with."""

from __future__ import annotations

from typing import Any

from flightctl.clients.base import ServiceApi


class AlertNotifier(ServiceApi):
    service = "alert-notifier"

    def notifications(self, *, email: str | None = None, limit: int = 50) -> Any:
        """Deliveries (alerts and SLA breaches sent to Telegram), newest first."""
        return self.http.get("/notifications", email=email, limit=limit)

    def telegram_bot(self) -> tuple[int, Any]:
        """(HTTP status, body) of the bot's description: 200 with its username and deep-link
        base, 503 when no bot is configured (returned, not raised)."""
        return self.http.get_reply("/telegram/bot")
