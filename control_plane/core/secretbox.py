"""Encrypting secrets the server must read back (webhook signing secrets).

The key is derived from ``SECRET_KEY``; rotating ``SECRET_KEY`` therefore
means re-creating webhooks (documented in the README).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"wagate-secretbox:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
