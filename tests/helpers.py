"""Test helpers shared across the suite."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.test import APIClient


@dataclass
class Customer:
    """A registered user with a ready client for each credential kind."""

    user: object
    password: str
    access: str
    refresh: str
    api_key: str

    def jwt_client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.access}")
        return client

    def key_client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=self.api_key)
        return client


def make_customer(email: str, *, staff: bool = False, tier: str | None = None) -> Customer:
    from control_plane.accounts import services
    from control_plane.accounts.models import User

    password = "correct-horse-battery-staple"
    user = services.user_register(email=email, password=password, name=email.split("@")[0])
    if staff or tier:
        User.objects.filter(pk=user.pk).update(is_staff=staff, tier_id=tier or user.tier_id)
        user.refresh_from_db()
    tokens = services.user_tokens(user=user)
    _, raw_key = services.api_key_create(user=user, name="default")
    return Customer(
        user=user, password=password, access=tokens["access"], refresh=tokens["refresh"], api_key=raw_key
    )


def error_code(response) -> str:
    """The envelope's code; fails loudly when the body is not the envelope."""
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]
