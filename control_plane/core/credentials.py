"""Recognising which kind of credential a request carries.

Three kinds never work in each other's place: a user login (JWT or browser
session), an API key (``wgk_...``), a worker token (``wgw_...``). The prefixes
make a credential's kind visible without a database lookup, so an endpoint can
refuse the wrong kind with a precise message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from django.http import HttpRequest

API_KEY_PREFIX = "wgk_"
WORKER_TOKEN_PREFIX = "wgw_"


class CredentialKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    WORKER = "worker"


KIND_NAMES = {
    CredentialKind.USER: "a user login (JWT access token or browser session)",
    CredentialKind.API_KEY: "an API key",
    CredentialKind.WORKER: "a worker token",
}


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def presented_kind(request: HttpRequest) -> CredentialKind | None:
    """The kind of credential the request presents in its headers, if any."""
    if request.META.get("HTTP_X_API_KEY"):
        return CredentialKind.API_KEY
    token = bearer_token(request)
    if token is None:
        return None
    if token.startswith(API_KEY_PREFIX):
        return CredentialKind.API_KEY
    if token.startswith(WORKER_TOKEN_PREFIX):
        return CredentialKind.WORKER
    return CredentialKind.USER


PUBLIC_CHARS = 8


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh secret ``<prefix><8 hex>_<random>`` and its public part ``<prefix><8 hex>``."""
    public = prefix + secrets.token_hex(PUBLIC_CHARS // 2)
    return f"{public}_{secrets.token_urlsafe(30)}", public


def public_part(secret: str, prefix: str) -> str:
    """The visible, indexed part of a secret (used to find its row before comparing hashes)."""
    return secret[: len(prefix) + PUBLIC_CHARS]


def hash_secret(secret: str) -> str:
    """SHA-256 is enough for high-entropy random secrets (no password stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secrets_match(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
