"""The one spelling of an email address that every service stores, compares and looks up."""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 254
"""The longest address (RFC 5321's path limit less the brackets); every service stores at most this."""


def normalize_email(value: str) -> str:
    """Trimmed, Unicode NFC, lower case: one person, one address, whatever the spelling.
    Only the form; whether the address is valid is each caller's own check."""
    return unicodedata.normalize("NFC", value.strip()).lower()
