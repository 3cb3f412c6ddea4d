"""Field validation with well-kept libraries (email-validator, python-stdnum). Each failure is
an InvalidInput naming the field."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from stdnum import iban as iban_number
from stdnum.exceptions import ValidationError
from stdnum.it import codicefiscale

from flightctl.services.common.emails import normalize_email
from flightctl.services.common.errors import InvalidInput

NAME_MAX = 50


def email(value: Any, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required and must be a string")
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{field} is not a valid email address: {exc}") from None
    # Stored and compared in one spelling: one person, one address, whatever the spelling.
    return normalize_email(result.normalized)


def name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required and must be a non-empty string")
    value = value.strip()
    if len(value) > NAME_MAX:
        raise InvalidInput(f"{field} must be at most {NAME_MAX} characters")
    return value


def tax_code(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("tax_code must be a string")
    try:
        return str(codicefiscale.validate(value))
    except ValidationError as exc:
        raise InvalidInput(f"tax_code is not a valid Italian fiscal code: {exc}") from None


def iban(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("iban must be a string")
    try:
        return str(iban_number.validate(value))
    except ValidationError as exc:
        raise InvalidInput(f"iban is not a valid IBAN: {exc}") from None


def chat_id(value: Any) -> str:
    if isinstance(value, bool):
        raise InvalidInput("telegram_chat_id must be digits, optionally starting with -")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput("telegram_chat_id must be digits, optionally starting with -")
    value = value.strip()
    digits = value[1:] if value.startswith("-") else value
    if not digits.isascii() or not digits.isdigit() or len(value) > 32:
        raise InvalidInput("telegram_chat_id must be digits, optionally starting with -")
    return value


def mask(value: str | None, visible: int = 4) -> str | None:
    if not value:
        return value
    return "*" * max(0, len(value) - visible) + value[-visible:]
