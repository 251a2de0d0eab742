"""In-process cache of API-key lookups (research/send-path.md: a database
lookup per request cost ~41 % of the send path).

Entries live ``API_KEY_CACHE_SECONDS``. A revocation bumps an epoch in Redis;
every process compares its epoch at most once a second and drops its cache
when it changed, so a revoked key stops working everywhere within ~1 s.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis import RedisError

log = logging.getLogger(__name__)

_EPOCH_KEY = "apikeys:epoch"
_lock = threading.Lock()
_entries: dict[str, tuple[float, Any]] = {}
_state = {"epoch": None, "checked": 0.0}


@dataclass(frozen=True)
class CachedKey:
    key_id: str
    user: Any
    last_touch: float


def _sync_epoch() -> None:
    now = time.monotonic()
    if now - _state["checked"] < 1.0:
        return
    _state["checked"] = now
    try:
        epoch = cache.get(_EPOCH_KEY)
    except (RedisError, OSError):  # Redis down: keep serving cached keys for their short TTL
        return
    if epoch != _state["epoch"]:
        with _lock:
            _entries.clear()
        _state["epoch"] = epoch


def get(key_hash: str) -> CachedKey | None:
    _sync_epoch()
    entry = _entries.get(key_hash)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def put(key_hash: str, value: CachedKey) -> None:
    with _lock:
        if len(_entries) > 10_000:
            _entries.clear()
        _entries[key_hash] = (time.monotonic() + settings.API_KEY_CACHE_SECONDS, value)


def invalidate_everywhere() -> None:
    with _lock:
        _entries.clear()
    try:
        cache.set(_EPOCH_KEY, time.time_ns(), timeout=None)
    except (RedisError, OSError):
        log.warning("could not publish an API-key revocation; other processes drop the key within its TTL")
    _state["checked"] = 0.0
