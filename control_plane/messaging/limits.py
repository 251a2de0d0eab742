"""Send rate limits per session and per customer, from the customer's tier
(django-ratelimit counters in the Redis cache); over a limit is a 429 with
``Retry-After``. Also the optional duplicate-text guard."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from control_plane.core.errors import Conflict, RateLimited


def _check(request: Any, group: str, key: str, per_minute: int) -> None:
    usage = get_usage(
        request,
        group=group,
        key=lambda _group, _request: key,
        rate=f"{per_minute}/m",
        method=ALL,
        increment=True,
    )
    if usage and usage["should_limit"]:
        raise RateLimited(
            f"Over the limit of {per_minute} messages a minute for this {group.split('.')[-1]}.",
            retry_after=int(usage["time_left"]) + 1,
            details={"limit_per_minute": per_minute, "scope": group.split(".")[-1]},
        )


def enforce(*, request: Any, user: Any, session_id: str) -> None:
    """Count one send against the session's and the customer's per-minute limits."""
    if not settings.RATELIMIT_ENABLE:
        return
    tier = user.tier
    per_session = tier.messages_per_minute_per_session if tier else 10
    per_user = tier.messages_per_minute_per_user if tier else 30
    _check(request, "messages.session", f"s:{session_id}", per_session)
    _check(request, "messages.user", f"u:{user.pk}", per_user)


def refuse_duplicate(*, session_id: str, chat: str, text: str) -> None:
    """Optional anti-spam guard: the same text to the same chat within the window."""
    window = settings.MESSAGE_DUPLICATE_WINDOW
    if window <= 0 or not text:
        return
    digest = hashlib.sha256(f"{session_id}|{chat}|{text}".encode()).hexdigest()
    if not cache.add(f"messages:dup:{digest}", 1, timeout=window):
        raise Conflict(
            f"The same text was sent to this chat in the last {window} s.",
            details={"reason": "duplicate_message", "window_seconds": window},
        )
