"""Register, login, refresh and /v1/me through the HTTP API."""

import pytest

from control_plane.accounts.models import User
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def test_register_creates_basic_tier_user_and_returns_tokens(api):
    response = api.post(
        "/v1/auth/register",
        {"email": "New@Example.com", "password": "a-long-passphrase-1", "name": "New"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "new@example.com"
    assert body["user"]["tier"] == "basic"
    assert body["access"] and body["refresh"]
    assert User.objects.get(email="new@example.com").check_password("a-long-passphrase-1")


def test_register_twice_with_same_email_is_a_validation_error(api, customer_a):
    response = api.post(
        "/v1/auth/register", {"email": "ALICE@example.com", "password": "another-pass-99"}, format="json"
    )
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "email" in response.json()["error"]["details"]["fields"]


def test_register_refuses_a_weak_password(api):
    response = api.post(
        "/v1/auth/register", {"email": "w@example.com", "password": "12345678"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]["fields"]
    assert not User.objects.filter(email="w@example.com").exists()


def test_login_returns_tokens_that_open_me(api, customer_a):
    response = api.post(
        "/v1/auth/login", {"email": "alice@example.com", "password": customer_a.password}, format="json"
    )
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    me = api.get("/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"


def test_login_with_wrong_password_is_401_with_envelope(api, customer_a):
    response = api.post(
        "/v1/auth/login", {"email": "alice@example.com", "password": "wrong-password"}, format="json"
    )
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_refresh_gives_a_working_access_token(api, customer_a):
    response = api.post("/v1/auth/refresh", {"refresh": customer_a.refresh}, format="json")
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert api.get("/v1/me").status_code == 200


def test_refresh_with_garbage_or_an_access_token_is_refused(api, customer_a):
    for token in ["garbage", customer_a.access]:
        response = api.post("/v1/auth/refresh", {"refresh": token}, format="json")
        assert response.status_code == 401
        assert error_code(response) == "not_authenticated"


def test_refresh_of_a_deactivated_user_is_refused(api, customer_a):
    User.objects.filter(pk=customer_a.user.pk).update(is_active=False)
    response = api.post("/v1/auth/refresh", {"refresh": customer_a.refresh}, format="json")
    assert response.status_code == 401


def test_me_shows_tier_limits_and_usage(customer_a):
    body = customer_a.jwt_client().get("/v1/me").json()
    assert body["tier"] == "basic"
    assert body["limits"]["sessions"] == 1
    assert body["limits"]["messages_per_minute"] == 30
    assert body["limits"]["messages_per_minute_per_session"] == 10
    assert body["usage"]["api_keys"] == 1


def test_me_without_credentials_is_401(api):
    response = api.get("/v1/me")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_me_with_an_expired_or_forged_jwt_is_401(api, customer_a):
    api.credentials(HTTP_AUTHORIZATION="Bearer " + customer_a.access[:-4] + "AAAA")
    response = api.get("/v1/me")
    assert response.status_code == 401
    assert "invalid or expired" in response.json()["error"]["message"]


def test_repeated_failed_logins_are_throttled_even_with_the_right_password(api, customer_a, settings):
    settings.LOGIN_FAILURES_PER_EMAIL = 3
    for _ in range(3):
        assert (
            api.post(
                "/v1/auth/login", {"email": "alice@example.com", "password": "nope-nope"}, format="json"
            ).status_code
            == 401
        )
    response = api.post(
        "/v1/auth/login", {"email": "alice@example.com", "password": customer_a.password}, format="json"
    )
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert int(response["Retry-After"]) > 0
    other = api.post("/v1/auth/login", {"email": "bob-not-here@example.com", "password": "x"}, format="json")
    assert other.status_code == 401  # another address is not affected
