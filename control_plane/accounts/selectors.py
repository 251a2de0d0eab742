"""Reads for accounts."""

from __future__ import annotations

import time
from typing import Any

from django.db.models import QuerySet

from control_plane.accounts import api_key_cache
from control_plane.accounts.models import ApiKey, User
from control_plane.core.credentials import API_KEY_PREFIX, hash_secret, public_part, secrets_match


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def api_key_authenticate(*, raw_key: str) -> tuple[User, str] | None:
    """The active user and key id for a raw key, or None. Cached in process."""
    key_hash = hash_secret(raw_key)
    cached = api_key_cache.get(key_hash)
    if cached is not None:
        _touch_if_due(cached, key_hash)
        return cached.user, cached.key_id
    key = (
        ApiKey.objects.select_related("user", "user__tier")
        .filter(prefix=public_part(raw_key, API_KEY_PREFIX), revoked_at__isnull=True)
        .first()
    )
    if key is None or not secrets_match(raw_key, key.key_hash) or not key.user.is_active:
        return None
    entry = api_key_cache.CachedKey(key_id=key.id, user=key.user, last_touch=0.0)
    _touch_if_due(entry, key_hash)
    return key.user, key.id


def _touch_if_due(entry: api_key_cache.CachedKey, key_hash: str) -> None:
    from control_plane.accounts.services import api_key_touch

    if time.monotonic() - entry.last_touch < 60:
        return
    api_key_touch(key_id=entry.key_id)
    api_key_cache.put(key_hash, api_key_cache.CachedKey(entry.key_id, entry.user, time.monotonic()))


def user_limits(*, user: User) -> dict[str, Any]:
    tier = user.tier
    return {
        "sessions": tier.max_sessions if tier else 0,
        "messages_per_minute": tier.messages_per_minute_per_user if tier else 0,
        "messages_per_minute_per_session": tier.messages_per_minute_per_session if tier else 0,
    }


def user_usage(*, user: User) -> dict[str, Any]:
    from django.apps import apps

    usage: dict[str, Any] = {"api_keys": api_key_list(user=user).count()}
    if apps.is_installed("control_plane.sessions"):
        from control_plane.sessions.selectors import session_usage

        usage.update(session_usage(user=user))
    return usage
