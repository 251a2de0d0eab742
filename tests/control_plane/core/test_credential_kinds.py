"""A credential of one kind never works where another kind is required."""

import pytest

from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def test_an_api_key_cannot_manage_api_keys(customer_a, api):
    api.credentials(HTTP_X_API_KEY=customer_a.api_key)
    response = api.post("/v1/api-keys", {"name": "escalate"}, format="json")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert "API key does not work here" in response.json()["error"]["message"]


def test_an_api_key_as_bearer_cannot_manage_api_keys(customer_a, api):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_a.api_key}")
    assert api.get("/v1/api-keys").status_code == 401


def test_a_worker_shaped_token_does_not_open_user_endpoints(api, customer_a):
    api.credentials(HTTP_AUTHORIZATION="Bearer wgw_0123abcd_notarealtoken")
    response = api.get("/v1/me")
    assert response.status_code == 401
    assert "worker token does not work here" in response.json()["error"]["message"]


def test_a_refresh_token_is_not_an_access_token(api, customer_a):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_a.refresh}")
    assert api.get("/v1/me").status_code == 401


def test_a_browser_session_opens_user_endpoints(api, customer_a):
    api.force_login(customer_a.user)
    assert api.get("/v1/me").json()["email"] == "alice@example.com"


def test_a_browser_session_needs_csrf_for_writes(customer_a):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_a.user)
    response = client.post("/v1/api-keys", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
