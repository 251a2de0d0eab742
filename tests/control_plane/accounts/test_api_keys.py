"""API keys: shown once, stored hashed, prefix visible, last use, revocation."""

import pytest

from control_plane.accounts.models import ApiKey
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def test_create_shows_the_key_once_and_stores_only_its_hash(customer_a):
    client = customer_a.jwt_client()
    response = client.post("/v1/api-keys", {"name": "ci"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith(body["prefix"] + "_")
    stored = ApiKey.objects.get(pk=body["id"])
    assert body["key"] not in (stored.key_hash, stored.prefix)
    listed = client.get("/v1/api-keys").json()["results"]
    assert {k["id"] for k in listed} >= {body["id"]}
    assert all("key" not in k for k in listed)


def test_an_api_key_authenticates_developer_calls_and_records_last_use(customer_a):
    # /v1/api-keys is a user endpoint; prove use through the key on a developer-style probe:
    key = ApiKey.objects.get(user=customer_a.user)
    assert key.last_used_at is None
    from control_plane.accounts.selectors import api_key_authenticate

    user, key_id = api_key_authenticate(raw_key=customer_a.api_key)
    assert user == customer_a.user and key_id == key.id
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_revoked_key_stops_working_at_once(customer_a, django_capture_on_commit_callbacks):
    from control_plane.accounts.selectors import api_key_authenticate

    assert api_key_authenticate(raw_key=customer_a.api_key) is not None  # now cached
    key = ApiKey.objects.get(user=customer_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.jwt_client().delete(f"/v1/api-keys/{key.id}")
    assert response.status_code == 204
    assert api_key_authenticate(raw_key=customer_a.api_key) is None
    assert key.id not in [k["id"] for k in customer_a.jwt_client().get("/v1/api-keys").json()["results"]]


def test_a_wrong_key_with_a_real_prefix_is_refused(customer_a):
    from control_plane.accounts.selectors import api_key_authenticate

    tampered = customer_a.api_key[:-3] + ("xyz" if not customer_a.api_key.endswith("xyz") else "abc")
    assert api_key_authenticate(raw_key=tampered) is None


def test_customers_cannot_see_or_revoke_each_others_keys(customer_a, customer_b):
    b_key = ApiKey.objects.get(user=customer_b.user)
    response = customer_a.jwt_client().delete(f"/v1/api-keys/{b_key.id}")
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    b_key.refresh_from_db()
    assert b_key.revoked_at is None
    listed = customer_a.jwt_client().get("/v1/api-keys").json()["results"]
    assert b_key.id not in [k["id"] for k in listed]


def test_create_without_a_name_is_a_validation_error(customer_a):
    response = customer_a.jwt_client().post("/v1/api-keys", {}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "name" in response.json()["error"]["details"]["fields"]


def test_api_key_list_is_cursor_paginated(customer_a):
    client = customer_a.jwt_client()
    for i in range(4):
        client.post("/v1/api-keys", {"name": f"k{i}"}, format="json")
    first = client.get("/v1/api-keys?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert not {k["id"] for k in first["results"]} & {k["id"] for k in second["results"]}


def test_an_api_key_opens_me_over_http_in_either_header(customer_a, api):
    api.credentials(HTTP_X_API_KEY=customer_a.api_key)
    assert api.get("/v1/me").json()["email"] == "alice@example.com"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_a.api_key}")
    assert api.get("/v1/me").json()["email"] == "alice@example.com"
