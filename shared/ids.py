"""Normalisation rules both sides apply to ids and phone numbers."""

from __future__ import annotations

import re
import secrets
import time

_NON_WORD = re.compile(r"[^a-z0-9]+")
_PHONE_DIGITS = re.compile(r"^\+?[0-9]{6,15}$")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def normalize_id(raw: str) -> str:
    """Lowercase, words joined by single hyphens: ``Worker_001`` -> ``worker-001``."""
    return _NON_WORD.sub("-", raw.strip().lower()).strip("-")


def normalize_phone(raw: str) -> str:
    """E.164 (``+15551234567``) or digits only -> digits only.

    Spaces, dashes, dots and parentheses are tolerated; anything else raises
    ``ValueError`` so callers can answer with a validation error.
    """
    cleaned = re.sub(r"[\s\-().]", "", str(raw))
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not _PHONE_DIGITS.match(cleaned):
        raise ValueError("a phone number is 6 to 15 digits, optionally starting with +")
    return cleaned.lstrip("+")


def new_id(prefix: str) -> str:
    """A sortable opaque id: ``<prefix>_<48-bit ms time><80 random bits>`` in Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
