"""user-manager: users, their Telegram chats, the one-time codes that link a chat, and the scoped
API tokens."""

from __future__ import annotations

from typing import Any

from flightctl.clients.base import ServiceApi


class UserManager(ServiceApi):
    service = "user-manager"

    def create(
        self,
        email: str,
        first_name: str,
        last_name: str,
        *,
        tax_code: str | None = None,
        iban: str | None = None,
        key: str | None = None,
    ) -> Any:
        body: dict[str, Any] = {"email": email, "first_name": first_name, "last_name": last_name}
        body.update({name: value for name, value in {"tax_code": tax_code, "iban": iban}.items() if value})
        return self._change("POST", "/users", body, key)

    def list(self) -> Any:
        """Every user, tax code and IBAN masked by the service."""
        return self.http.get("/users")

    def get(self, email: str) -> Any:
        return self.http.get(f"/users/{email}")

    def delete(self, email: str, *, key: str | None = None) -> Any:
        """The user and (through the outbox) their interests."""
        return self._change("DELETE", f"/users/{email}", None, key)

    def set_telegram_chat(self, email: str, chat_id: str, *, key: str | None = None) -> Any:
        return self._change("POST", "/users/telegram", {"email": email, "telegram_chat_id": chat_id}, key)

    def telegram_link_code(self, email: str, *, key: str | None = None) -> Any:
        """A one-time code the user sends to the bot (`/start CODE`) to link their chat."""
        return self._change("POST", "/users/telegram/link", {"email": email}, key)

    # -- API tokens (admin): not journaled, so no token is ever written to the journal ------------
    def create_token(self, scope: str, name: str | None = None) -> Any:
        """A new token of ``scope``; the answer holds the token itself, shown this once."""
        body: dict[str, Any] = {"scope": scope}
        if name is not None:
            body["name"] = name
        return self.http.request("POST", "/tokens", json=body)[1]

    def list_tokens(self) -> Any:
        """Every token made (revoked ones too), never the tokens themselves."""
        return self.http.get("/tokens")

    def revoke_token(self, token_id: int) -> Any:
        return self.http.request("DELETE", f"/tokens/{token_id}")[1]
