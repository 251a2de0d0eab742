"""API keys in the portal: created and shown once, listed by prefix, revoked."""

from __future__ import annotations

import re

import pytest

from control_plane.accounts.models import ApiKey
from tests.portal.conftest import HTMX

pytestmark = pytest.mark.django_db


def _shown_key(html: str) -> str:
    match = re.search(r'value="(wgk_[^"]+)" readonly data-new-key', html)
    assert match, "no new key on the page"
    return match.group(1)


def test_a_new_key_is_shown_once_and_works(browser_a, customer_a, api):
    response = browser_a.post("/keys", {"name": "CRM"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw = _shown_key(response.content.decode())
    key = ApiKey.objects.get(user=customer_a.user, name="CRM")
    assert raw.startswith(key.prefix) and "Copy it now" in response.content.decode()
    api.credentials(HTTP_X_API_KEY=raw)
    assert api.get("/v1/me").json()["email"] == "alice@example.com"
    listing = browser_a.get("/keys").content.decode()
    assert raw not in listing and f"{key.prefix}…" in listing and "CRM" in listing


def test_the_key_list_shows_last_use(browser_a, customer_a):
    from django.utils import timezone

    ApiKey.objects.filter(user=customer_a.user).update(last_used_at=timezone.now())
    ApiKey.objects.create(user=customer_a.user, name="unused", prefix="wgk_unused0", key_hash="x")
    text = browser_a.get("/keys").content.decode()
    assert "0\xa0minutes ago" in text and "never" in text


def test_a_key_needs_a_name(browser_a, customer_a):
    response = browser_a.post("/keys", {"name": "  "}, **HTMX)
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert response.content.decode().lstrip().startswith('<div id="keys"')
    assert ApiKey.objects.filter(user=customer_a.user).count() == 1  # the fixture's


def test_revoke_removes_the_key_from_the_list_and_it_stops_working(browser_a, customer_a, api):
    key = ApiKey.objects.get(user=customer_a.user)
    response = browser_a.post(f"/keys/{key.id}/revoke", **HTMX)
    assert response.status_code == 200
    assert key.prefix not in response.content.decode() and "No active keys" in response.content.decode()
    api.credentials(HTTP_X_API_KEY=customer_a.api_key)
    assert api.get("/v1/me").status_code == 401


def test_another_customers_key_cannot_be_revoked(browser_b, customer_a):
    key = ApiKey.objects.get(user=customer_a.user)
    assert browser_b.post(f"/keys/{key.id}/revoke").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
