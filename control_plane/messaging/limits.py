"""Send rate limits per session and per customer, from the customer's tier; over a
limit is a 429 with ``Retry-After``. Also the optional duplicate-text guard.

The windows and counter keys are django-ratelimit's (fixed windows, staggered per
key, in the Redis cache), but both counters of a send move in one Redis round
trip. ``get_usage`` made three round trips per limit through Django's cache (add,
then exists and incr), six per send: 1.1-1.9 ms of CPU, more than the rest of
the send put together.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key
from redis import RedisError

from control_plane.core import redis as redis_client
from control_plane.core.errors import Conflict, RateLimited

log = logging.getLogger(__name__)
PERIOD = 60  # the limits are per minute

# Count the send against each limit in turn, as django-ratelimit's decorators would
# one after the other: a key seen for the first time expires after its window, and
# a send refused by one limit is not counted against the next.
_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  if counts[i] > tonumber(ARGV[i + 1]) then break end
end
return counts
"""


@functools.cache
def _script() -> Any:
    return redis_client.client().register_script(_COUNT)  # EVALSHA, loaded once


@dataclass(frozen=True)
class _Limit:
    scope: str  # "session" or "user"
    value: str
    per_minute: int

    def key_and_window(self) -> tuple[str, int]:
        window = _get_window(self.value, PERIOD)
        return _counter_key(self.scope, self.value, self.per_minute, window), window


@functools.lru_cache(maxsize=4096)  # one key per counter and minute: an md5 and a rate parse saved per send
def _counter_key(scope: str, value: str, per_minute: int, window: int) -> str:
    key = _make_cache_key(f"messages.{scope}", window, f"{per_minute}/m", value, ALL)
    return cache.make_key(key)  # "rl:" and a hex digest: valid for every backend


def _count(keys: list[str], per_minute: list[int]) -> list[int] | None:
    try:
        return [int(n) for n in _script()(keys=keys, args=[PERIOD + EXPIRATION_FUDGE, *per_minute])]
    except RedisError as exc:  # the send is durable without Redis; do not refuse it for this
        log.warning("rate limits not counted (Redis: %s); letting the send through", exc)
        return None


def enforce(*, user: Any, session_id: str) -> None:
    """Count one send against the session's and the customer's per-minute limits."""
    if not settings.RATELIMIT_ENABLE:
        return
    tier = user.tier
    limits = [
        _Limit("session", f"s:{session_id}", tier.messages_per_minute_per_session if tier else 10),
        _Limit("user", f"u:{user.pk}", tier.messages_per_minute_per_user if tier else 30),
    ]
    keyed = [limit.key_and_window() for limit in limits]
    counts = _count([key for key, _ in keyed], [limit.per_minute for limit in limits])
    if counts is None:
        return
    for limit, (_, window), count in zip(limits, keyed, counts, strict=False):
        if count > limit.per_minute:
            raise RateLimited(
                f"Over the limit of {limit.per_minute} messages a minute for this {limit.scope}.",
                retry_after=max(1, window - int(time.time())) + 1,
                details={"limit_per_minute": limit.per_minute, "scope": limit.scope},
            )


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
