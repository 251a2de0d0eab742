"""Refusing password guessing: failed logins are counted per e-mail address and per
client address in the Redis cache; over the limit, logins wait (429 + Retry-After).
If Redis is down the throttle fails open (logged): logging in matters more."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from redis import RedisError

from control_plane.core.errors import RateLimited

log = logging.getLogger(__name__)


def _keys(email: str, client_ip: str | None) -> list[tuple[str, int]]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = [(f"login:fail:email:{digest}", settings.LOGIN_FAILURES_PER_EMAIL)]
    if client_ip:
        keys.append((f"login:fail:ip:{client_ip}", settings.LOGIN_FAILURES_PER_IP))
    return keys


def check(*, email: str, client_ip: str | None) -> None:
    """Raise RateLimited when this address or this client failed too often lately."""
    try:
        counts = cache.get_many([key for key, _ in _keys(email, client_ip)])
    except (RedisError, OSError):
        log.warning("login throttle unavailable (Redis down): allowing the attempt")
        return
    for key, limit in _keys(email, client_ip):
        if counts.get(key, 0) >= limit:
            raise RateLimited(
                "Too many failed logins; wait before trying again.", retry_after=settings.LOGIN_FAILURE_WINDOW
            )


def record_failure(*, email: str, client_ip: str | None) -> None:
    try:
        for key, _ in _keys(email, client_ip):
            if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW):
                cache.incr(key)
    except (RedisError, OSError, ValueError):
        log.warning("could not count a failed login (Redis down or key expired meanwhile)")
