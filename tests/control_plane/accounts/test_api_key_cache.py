"""A revocation in one process empties the API-key cache of every other process."""

import pytest
from django.core.cache import cache

from control_plane.accounts import api_key_cache

pytestmark = pytest.mark.django_db


def test_an_epoch_bump_from_another_process_drops_cached_keys():
    api_key_cache._state["checked"] = 0.0
    api_key_cache._sync_epoch()  # in step with the current epoch
    api_key_cache.put("h", api_key_cache.CachedKey("key_1", object(), 0.0))
    assert api_key_cache.get("h") is not None
    cache.set("apikeys:epoch", "bumped-elsewhere", timeout=None)  # what another process's revoke does
    api_key_cache._state["checked"] = 0.0  # the once-a-second check is due
    assert api_key_cache.get("h") is None


def test_entries_expire_after_their_ttl(settings, monkeypatch):
    settings.API_KEY_CACHE_SECONDS = 30
    clock = [1000.0]
    monkeypatch.setattr(api_key_cache.time, "monotonic", lambda: clock[0])
    api_key_cache._state["checked"] = clock[0]
    api_key_cache._state["epoch"] = cache.get("apikeys:epoch")  # in step: no revocation meanwhile
    api_key_cache.put("h", api_key_cache.CachedKey("key_1", object(), 0.0))
    clock[0] += 29
    assert api_key_cache.get("h") is not None
    clock[0] += 2
    assert api_key_cache.get("h") is None
